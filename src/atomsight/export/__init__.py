"""The last stage of training: a trained network with its evaluation made into a model folder a user can apply.

:mod:`.card` writes the model card (the one writer); :mod:`.savedmodel` exports
``results/models/<system>`` (a SavedModel that normalises its input, the Keras network and
the card); :mod:`.release` writes a shipped model folder (the network without optimiser
state and a card that also says how it was trained). Reading a model folder back is
:mod:`atomsight.models` and :mod:`atomsight.network.exported`.
"""
