r"""The kernel layer: the pure array formulas of the network and of the lift, written once.

Everything above this layer (the data backends, the network, the problem, the solvers) calls
these functions rather than writing a formula again:

* :mod:`~spectranet.kernels.forward`: the hidden layer :math:`\sigma(XU^\top)`, the outputs
  :math:`\sigma(XU^\top)A`, and their grouped forms for the convolutional architectures (the
  group-averaged activations of a patch lift), with the gradients of both layers;
* :mod:`~spectranet.kernels.lift`: the svec layout of symmetric matrices, the lifted map
  :math:`\hat y_i = \langle A_i, M\rangle` and the explicit lifted features :math:`\Phi`
  (:math:`\Phi\,\mathrm{svec}(M) = \mathcal A(M)`);
* :mod:`~spectranet.kernels.tangent`: the per-sample terms of the Newton system of (P) in
  tangent coordinates.

The functions take arrays and small library objects (activations, losses) and import nothing
above :mod:`spectranet.activations` and :mod:`spectranet.losses`.
"""

from .forward import (
                      group_first_gradient,
                      group_forward,
                      group_hidden,
                      group_outputs,
                      group_second_gradient,
                      hidden_layer,
                      network_outputs,
)
from .lift import (
                      activation_factors,
                      block_svec,
                      cone_matrices,
                      group_lifted_features,
                      group_moments,
                      lifted_dimension,
                      lifted_features,
                      lifted_map,
                      smat,
                      svec,
                      svec_indices,
                      svec_matrix,
)
from .tangent import sample_terms

__all__ = [
    "activation_factors", "block_svec", "cone_matrices", "group_first_gradient", "group_forward", "group_hidden",
    "group_lifted_features", "group_moments", "group_outputs", "group_second_gradient", "hidden_layer",
    "lifted_dimension", "lifted_features", "lifted_map", "network_outputs", "sample_terms", "smat", "svec",
    "svec_indices", "svec_matrix",
]
