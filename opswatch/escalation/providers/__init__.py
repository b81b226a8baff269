"""Ways to reach people: Twilio and Vonage for calls and SMS, and a log for the embedded shape."""
