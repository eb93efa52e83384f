//! wharf-orchestrator (being written).
