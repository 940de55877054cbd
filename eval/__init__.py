"""The bundle evaluator; importable without torch."""
