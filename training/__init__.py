"""fanpin.training — labels, out-of-time splits, calibrated LightGBM, baselines, MLflow registry."""
