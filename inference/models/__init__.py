"""The served models: text (incident-text), image (chart-vit) and fusion."""
