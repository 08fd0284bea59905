"""Random atomic structures for training: graphene-like sheets and FCC nanoparticles."""
