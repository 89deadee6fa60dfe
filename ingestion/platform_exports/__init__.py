"""Platform export files (ad metrics, social insights, orders) from LANDING_DIR into raw."""
