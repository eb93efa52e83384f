//! wharf-image (being written).
