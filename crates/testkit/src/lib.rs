//! wharf-testkit (being written).
