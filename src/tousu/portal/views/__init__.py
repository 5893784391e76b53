"""The portal's pages: filing, tracking (with a one-time code), withdrawal and the survey."""
