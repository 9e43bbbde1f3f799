"""Production transport: kombu consumers, the outbox relay and the dead-letter archiver."""
