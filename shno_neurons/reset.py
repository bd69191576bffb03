"""Reset the hidden state of every spiking neuron inside one network.

:func:`reset` walks ``net.modules()`` (so nested blocks are found) and resets

* every :class:`shno_neurons.snntorch.SHNO`, through its own ``reset_hidden``;
* every snnTorch neuron that ``snntorch.utils.reset`` knows (``Leaky``, ``Synaptic``,
  ``Alpha``, ``Lapicque``, ``RLeaky``, ``RSynaptic``, ``SLSTM``, ``SConv2dLSTM``, and
  others with the same instance API), through the instance method ``reset_mem``.

``snntorch.utils.reset`` itself looks only at the direct children of ``net`` and calls
class-level methods that reset every live neuron of that class, in every model. This
function touches only the neurons inside ``net``.

Norse modules keep no hidden state (the caller holds it), so there is nothing to reset.
"""

from __future__ import annotations

from torch import nn

__all__ = ["reset"]


def reset(net: nn.Module) -> None:
    """Reset and detach the hidden state of every spiking neuron in ``net``.

    Args:
        net: any module; searched recursively.

    Raises:
        TypeError: if ``net`` is not an ``nn.Module``.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(
            f"reset(net) needs a torch.nn.Module, got {type(net).__name__}."
        )
    from snntorch import SpikingNeuron

    from .snntorch import SHNO

    for module in net.modules():
        if isinstance(module, SHNO):
            module.reset_hidden()
        elif isinstance(module, SpikingNeuron) and callable(
            getattr(module, "reset_mem", None)
        ):
            # Instance method: new zero tensors, so the old graph is dropped too.
            module.reset_mem()
