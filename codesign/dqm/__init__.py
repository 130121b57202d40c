"""Data Quality Monitoring on per-run histograms: fetch DQM ROOT files, train PCA, autoencoders and
statistical tests, assess them (AutoDQM_ML's workflow on codesign's training core)."""
