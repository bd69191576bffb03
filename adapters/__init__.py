"""Adapters: connect the SHNO neuron to the tooling of snnTorch, Norse and torchvision.

Installed as ``shno_neurons.adapters`` (the folder ``adapters/`` in the repository). It
imports the front-ends; nothing in the core imports it.
"""
