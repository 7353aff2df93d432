"""The web side of the relay: pages, health, the operators' API and live events."""
