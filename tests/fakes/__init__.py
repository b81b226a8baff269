"""Stand-ins for the telephony providers' REST APIs: real HTTP servers on the test loop
that the real SDK clients talk to (``FakeTwilio``, ``FakeVonage``)."""
