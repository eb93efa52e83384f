//! wharf-compose (being written).
