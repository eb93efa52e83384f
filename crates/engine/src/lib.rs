//! wharf-engine (being written).
