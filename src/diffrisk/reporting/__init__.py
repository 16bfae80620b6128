"""Paper tables and figures, stress figures and the study report."""
