"""codesign: hardware co-design of real-time anomaly detection for particle-physics triggers."""

__version__ = "0.1.0"
