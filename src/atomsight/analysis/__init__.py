"""Analyses of found positions and of sequences of them: bonds, rings and strain of graphene, and more."""
