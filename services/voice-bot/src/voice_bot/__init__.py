"""voice-bot: a FastAGI voice assistant."""
