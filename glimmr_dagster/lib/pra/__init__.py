"""Client and record model for the Patient Rights Advocate hospital-file index."""
