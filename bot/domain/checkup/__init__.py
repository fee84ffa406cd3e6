"""Post-deploy checkups: when they run, the metrics they read, the verdict."""
