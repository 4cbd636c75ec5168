"""fanpin.features — contract tables in, one row per household per month out (point in time)."""
