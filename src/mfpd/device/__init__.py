"""The machine: identity, state, media, supplies, counters, alerts, jobs, engine, events."""
