"""The customer portal: public pages to file, track, answer the survey and withdraw."""
