"""The Slack app: workspaces, the alert messages kept current, slash commands,
buttons and modals, events, and DMs (escalation and handoff notices)."""
