//! wharf-runtime (being written).
