"""The Slack adapter: Bolt in, the engine's port out. Start it with `bots.slack.server.serve`."""
