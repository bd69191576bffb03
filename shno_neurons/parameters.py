"""Device parameters of a spin Hall nano-oscillator macrospin.

:class:`SHNOParameters` holds every material and geometry quantity the LLGS equation in
:mod:`shno_neurons.llgs` needs, in SI units, and derives the small-signal numbers a
device physicist checks first (Kittel frequency, damping rate, threshold current).

Scalar fields accept a Python float or a tensor. A tensor of shape ``(N,)`` gives each
of ``N`` neurons its own value (device-to-device spread, see
:func:`shno_neurons.parameters.with_device_spread`); a tensor with ``requires_grad``
makes the quantity learnable. The derived quantities are closed forms of the nominal
(scalar) device and need float fields.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import torch

from .constants import E_CHARGE, GAMMA0, HBAR, K_B, MU0, TWO_PI

__all__ = ["SHNOParameters", "StiffnessFields", "with_device_spread"]

Scalar = float | torch.Tensor
Vector = tuple[float, float, float] | torch.Tensor


class StiffnessFields(NamedTuple):
    """Small-angle stiffness of the free layer around its equilibrium direction.

    Attributes:
        m0: equilibrium direction, shape ``(3,)``.
        h1: smaller stiffness field, A/m (the soft transverse direction).
        h2: larger stiffness field, A/m.
        e1: unit vector of the soft transverse direction, shape ``(3,)``.
        e2: unit vector of the stiff transverse direction, shape ``(3,)``.
    """

    m0: np.ndarray
    h1: float
    h2: float
    e1: np.ndarray
    e2: np.ndarray


def _check_range(name: str, value: Scalar, low: float, high: float, unit: str) -> None:
    """Raise a ValueError naming ``name`` unless ``low <= value <= high`` everywhere."""
    if isinstance(value, torch.Tensor):
        v = value.detach()
        ok = bool(torch.isfinite(v).all()) and bool(((v >= low) & (v <= high)).all())
        shown = f"tensor with min {v.min().item():.4g}, max {v.max().item():.4g}"
    else:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"SHNOParameters.{name} must be a float or a tensor, got "
                f"{type(value).__name__} ({value!r})."
            ) from None
        ok = math.isfinite(v) and low <= v <= high
        shown = repr(value)
    if not ok:
        raise ValueError(
            f"SHNOParameters.{name} = {shown} is outside the accepted range "
            f"[{low:g}, {high:g}] {unit}. Pass a finite value in that range "
            f"(SI units: {unit})."
        )


def _check_vector(name: str, value: Vector, unit: bool) -> Vector:
    """Validate a 3-vector field; normalise it when ``unit`` is set."""
    if isinstance(value, torch.Tensor):
        if value.shape[-1:] != (3,):
            raise ValueError(
                f"SHNOParameters.{name} must have a last dimension of size 3, got "
                f"shape {tuple(value.shape)}. Pass a 3-vector (x, y, z)."
            )
        if not bool(torch.isfinite(value.detach()).all()):
            raise ValueError(f"SHNOParameters.{name} has non-finite entries.")
        if unit:
            norm = torch.linalg.vector_norm(value.detach(), dim=-1)
            if bool((norm < 1e-12).any()):
                raise ValueError(
                    f"SHNOParameters.{name} must be a non-zero direction; got a zero "
                    "vector. Pass for example (1.0, 0.0, 0.0)."
                )
            return value / torch.linalg.vector_norm(value, dim=-1, keepdim=True)
        return value
    try:
        vec = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        raise TypeError(
            f"SHNOParameters.{name} must be a 3-vector of floats, got {value!r}."
        ) from None
    if len(vec) != 3 or not all(math.isfinite(x) for x in vec):
        raise ValueError(
            f"SHNOParameters.{name} = {value!r} must be three finite numbers (x, y, z)."
        )
    if unit:
        norm = math.sqrt(sum(x * x for x in vec))
        if norm < 1e-12:
            raise ValueError(
                f"SHNOParameters.{name} = {value!r} must be a non-zero direction. "
                "Pass for example (1.0, 0.0, 0.0)."
            )
        vec = tuple(x / norm for x in vec)
    return vec


@dataclass(frozen=True, eq=False)
class SHNOParameters:
    """Material and geometry of one SHNO free layer on a heavy-metal strip (SI units).

    The defaults are Set A of the physics reference: a NiFe/Pt nano-constriction
    (:data:`shno_neurons.presets.NIFE_PT`). The equation these enter is stated once, in
    :mod:`shno_neurons.llgs`.

    Attributes:
        ms: saturation magnetization ``Ms``, A/m.
        alpha: Gilbert damping, dimensionless.
        t_fm: free-layer thickness, m.
        theta_sh: spin Hall angle of the heavy metal, dimensionless; its sign sets the
            sign of the torque (Pt > 0, W and Ta < 0).
        beta_fl: field-like to damping-like torque ratio, dimensionless.
        h_ext: applied field ``H_ext``, 3-vector, A/m.
        h_k: uniaxial anisotropy field ``H_K = 2 K_u / (mu0 Ms)``, A/m.
        easy_axis: uniaxial easy axis ``u``, unit 3-vector (normalised on creation).
        demag: diagonal demagnetizing factors ``(N_x, N_y, N_z)``, dimensionless. A
            perpendicular interface anisotropy is folded in as ``N_z = Meff / Ms``.
        sigma: spin polarization direction ``sigma = z x j_hat``, unit 3-vector.
        temperature: temperature of the thermal (Brown) field, K; 0 turns noise off.
        volume: magnetic volume of the macrospin, m^3 (sets the noise strength).
        gamma0: gyromagnetic ratio ``mu0 gamma_e``, m/(A s).
        readout_axis: axis ``a`` the spike readout projects on, unit 3-vector.
        readout: ``"linear"`` reads ``m . a`` (Hall bar, tunnel junction);
            ``"quadratic"`` reads ``(m . a)^2`` (anisotropic or spin Hall
            magnetoresistance of a two-terminal device).
    """

    ms: Scalar = 0.74 / MU0
    alpha: Scalar = 0.02
    t_fm: Scalar = 5e-9
    theta_sh: Scalar = 0.08
    beta_fl: Scalar = 0.0
    h_ext: Vector = (0.1 / MU0, 0.0, 0.0)
    h_k: Scalar = 0.0
    easy_axis: Vector = (1.0, 0.0, 0.0)
    demag: Vector = (0.0, 0.0, 1.0)
    sigma: Vector = (-1.0, 0.0, 0.0)
    temperature: Scalar = 0.0
    volume: Scalar = math.pi * (50e-9) ** 2 * 5e-9
    gamma0: Scalar = GAMMA0
    readout_axis: Vector = (0.0, 1.0, 0.0)
    readout: Literal["linear", "quadratic"] = "linear"
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_range("ms", self.ms, 1e3, 1e7, "A/m")
        _check_range("alpha", self.alpha, 0.0, 1.0, "(dimensionless)")
        _check_range("t_fm", self.t_fm, 1e-11, 1e-6, "m")
        _check_range("theta_sh", self.theta_sh, -1.0, 1.0, "(dimensionless)")
        _check_range("beta_fl", self.beta_fl, -10.0, 10.0, "(dimensionless)")
        _check_range("h_k", self.h_k, 0.0, 1e8, "A/m")
        _check_range("temperature", self.temperature, 0.0, 2000.0, "K")
        _check_range("volume", self.volume, 1e-30, 1e-15, "m^3")
        _check_range("gamma0", self.gamma0, 1e4, 1e7, "m/(A s)")
        for name, unit in [
            ("h_ext", False),
            ("easy_axis", True),
            ("demag", False),
            ("sigma", True),
            ("readout_axis", True),
        ]:
            object.__setattr__(
                self, name, _check_vector(name, getattr(self, name), unit)
            )
        demag = self.demag
        if not isinstance(demag, torch.Tensor) and not all(-1 <= n <= 1 for n in demag):
            raise ValueError(
                f"SHNOParameters.demag = {demag!r}: each factor must lie in [-1, 1] "
                "(a negative N_z describes a perpendicular magnet with Meff < 0)."
            )
        if self.readout not in ("linear", "quadratic"):
            raise ValueError(
                f"SHNOParameters.readout = {self.readout!r} is not one of 'linear', "
                "'quadratic'. Use 'linear' for a Hall or tunnel-junction readout, "
                "'quadratic' for a magnetoresistive one."
            )

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes) -> SHNOParameters:
        """Return a copy with the given fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def _scalar(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"SHNOParameters.{name} holds {value.numel()} values (one per "
                    "neuron); closed-form device quantities need a single nominal "
                    "value. Call this on the nominal parameters instead."
                )
            return float(value.detach())
        return float(value)

    def _vector(self, name: str) -> np.ndarray:
        value = getattr(self, name)
        if isinstance(value, torch.Tensor):
            if value.numel() != 3:
                raise ValueError(
                    f"SHNOParameters.{name} holds per-neuron vectors; closed-form "
                    "device quantities need the nominal parameters."
                )
            return value.detach().double().cpu().numpy().reshape(3)
        return np.asarray(value, dtype=np.float64)

    @property
    def meff(self) -> float:
        """Effective magnetization ``Ms * N_z``, A/m (thin-film out-of-plane)."""
        return self._scalar("ms") * float(self._vector("demag")[2])

    # --------------------------------------------------------- derived numbers
    def h_dl_per_j(self) -> float:
        """Damping-like field per unit current density, (A/m) / (A/m^2).

        ``hbar theta_SH / (2 e mu0 Ms t_FM)``.
        """
        return (
            HBAR
            * self._scalar("theta_sh")
            / (2.0 * E_CHARGE * MU0 * self._scalar("ms") * self._scalar("t_fm"))
        )

    def effective_field(self, m: np.ndarray) -> np.ndarray:
        """Conservative field ``H_eff(m)`` at zero current, A/m, shape ``(3,)``."""
        u = self._vector("easy_axis")
        n = self._vector("demag")
        return (
            self._vector("h_ext")
            + self._scalar("h_k") * float(m @ u) * u
            - self._scalar("ms") * n * m
        )

    def equilibrium(self) -> np.ndarray:
        """Equilibrium direction of m at zero current, unit vector, shape ``(3,)``.

        Found by relaxing (overdamped gradient flow on the unit sphere, starting from
        the applied field's direction, or the easy axis without a field), not by a
        formula, so any field and anisotropy geometry works. Cached per instance.
        """
        if "m0" not in self._cache:
            self._cache["m0"] = self._relax()
        return self._cache["m0"].copy()

    def _relax(self) -> np.ndarray:
        h_ext = self._vector("h_ext")
        u = self._vector("easy_axis")
        start = h_ext if np.linalg.norm(h_ext) > 0 else u
        if self._scalar("h_k") == 0 and np.linalg.norm(h_ext) == 0:
            # No field and no anisotropy: only shape anisotropy; start in its soft axis.
            start = np.eye(3)[int(np.argmin(self._vector("demag")))]
        m = start / np.linalg.norm(start)
        # A tiny tilt lets the flow leave a saddle point (e.g. a field along a hard
        # axis weaker than its demagnetizing field).
        m = m + 1e-9 * np.array([0.3, 0.2, 0.1])
        m /= np.linalg.norm(m)
        scale = (
            np.linalg.norm(h_ext)
            + self._scalar("h_k")
            + self._scalar("ms") * np.abs(self._vector("demag")).max()
        )
        step = 0.5 / scale
        for _ in range(200_000):
            h = self.effective_field(m)
            torque = h - float(m @ h) * m
            if np.linalg.norm(torque) < 1e-13 * scale:
                break
            m = m + step * torque
            m /= np.linalg.norm(m)
        else:  # pragma: no cover - every preset converges in a few thousand steps
            raise RuntimeError(
                "SHNOParameters.equilibrium did not converge in 200000 relaxation "
                "steps; the energy landscape may have no stable minimum."
            )
        return m

    def stiffness_fields(self) -> StiffnessFields:
        """Stiffness fields of small deviations from the equilibrium, A/m.

        The transverse restoring field of a small tilt ``dm`` is ``-K dm`` with
        ``K = (m0 . H_eff) I - P dH_eff/dm P`` restricted to the plane normal to
        ``m0``; its eigenvalues are the two stiffness fields. For a thin film magnetized
        in plane by a field ``H`` they are ``H`` and ``H + Meff``.
        """
        m0 = self.equilibrium()
        h0 = self.effective_field(m0)
        u = self._vector("easy_axis")
        dh = self._scalar("h_k") * np.outer(u, u) - self._scalar("ms") * np.diag(
            self._vector("demag")
        )
        trial = np.eye(3)[int(np.argmin(np.abs(m0)))]
        b1 = np.cross(m0, trial)
        b1 /= np.linalg.norm(b1)
        b2 = np.cross(m0, b1)
        basis = np.stack([b1, b2])
        k = float(m0 @ h0) * np.eye(2) - basis @ dh @ basis.T
        vals, vecs = np.linalg.eigh(0.5 * (k + k.T))
        e1 = vecs[:, 0] @ basis
        e2 = vecs[:, 1] @ basis
        return StiffnessFields(m0, float(vals[0]), float(vals[1]), e1, e2)

    def kittel_frequency(self) -> float:
        """Ferromagnetic resonance frequency ``gamma0 / 2pi sqrt(H1 H2)``, Hz.

        For an in-plane thin film this is the Kittel formula
        ``gamma0/2pi sqrt(H (H + Meff))``; without demagnetization it is the Larmor
        frequency ``gamma0 H / 2pi``.
        """
        s = self.stiffness_fields()
        return self._scalar("gamma0") / TWO_PI * math.sqrt(max(s.h1 * s.h2, 0.0))

    def decay_rate(self) -> float:
        """Small-angle relaxation rate at zero current, 1/s.

        ``alpha gamma0 (H1 + H2) / 2 / (1 + alpha^2)``: the leak of the neuron.
        """
        s = self.stiffness_fields()
        alpha = self._scalar("alpha")
        return alpha * self._scalar("gamma0") * 0.5 * (s.h1 + s.h2) / (1.0 + alpha**2)

    def threshold_field(self) -> float:
        """Damping-like field at which the neuron starts to spike, A/m.

        Two geometries have a closed form:

        * auto-oscillation, ``sigma`` with a component antiparallel to ``m0``: the
          antidamping balances the damping at
          ``H_DL,c = alpha (H1 + H2) / 2 / |sigma . m0|``;
        * phase slip (easy-plane neuron), ``sigma`` along the stiff axis ``e2``
          normal to ``m0``: ``H_DL,c = H1 / 2``, independent of alpha.

        Raises:
            ValueError: for other geometries; use
                :func:`shno_neurons.characterise.sweep_current` to find the threshold
                numerically.
        """
        s = self.stiffness_fields()
        sigma = self._vector("sigma")
        proj = float(sigma @ s.m0)
        if abs(proj) > 0.05:
            return self._scalar("alpha") * 0.5 * (s.h1 + s.h2) / abs(proj)
        if abs(float(sigma @ s.e2)) > 0.95:
            return 0.5 * s.h1
        raise ValueError(
            "SHNOParameters.threshold_field has no closed form when sigma is normal to "
            "the equilibrium direction but not along the stiff axis (sigma . m0 = "
            f"{proj:.3f}, sigma . e2 = {float(sigma @ s.e2):.3f}). Use "
            "shno_neurons.characterise.sweep_current to find it numerically."
        )

    def threshold_current_density(self) -> float:
        """Threshold charge current density ``j_c`` in the heavy metal, A/m^2.

        ``threshold_field() / |h_dl_per_j()|``; the sign of the current that reaches
        it follows :meth:`drive_sign`.
        """
        return self.threshold_field() / abs(self.h_dl_per_j())

    def drive_sign(self) -> float:
        """Sign (+1 or -1) of the current density that drives the neuron to spike.

        Positive when ``theta_SH`` and the geometry already give antidamping for
        ``J > 0`` (all presets are set up this way).
        """
        s = self.stiffness_fields()
        sigma = self._vector("sigma")
        proj = float(sigma @ s.m0)
        sign_theta = math.copysign(1.0, self._scalar("theta_sh"))
        if abs(proj) > 0.05:
            return -sign_theta * math.copysign(1.0, proj)
        return sign_theta

    def brown_field_std(self, dt: float) -> float:
        """Standard deviation of each thermal-field component for a step ``dt``, A/m.

        ``sqrt(2 alpha kB T / (gamma0 mu0 Ms V dt))`` (Brown, 1963).
        """
        return math.sqrt(
            2.0
            * self._scalar("alpha")
            * K_B
            * self._scalar("temperature")
            / (
                self._scalar("gamma0")
                * MU0
                * self._scalar("ms")
                * self._scalar("volume")
                * dt
            )
        )

    def max_field(self, j_abs_max: float = 0.0) -> float:
        """Upper bound of ``|H_t|`` over the sphere at current density ``j``, A/m.

        Sets the fastest precession rate ``gamma0 * max_field`` the integrator meets.
        """

        def mx(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, torch.Tensor):
                return float(value.detach().abs().max())
            return abs(float(value))

        h_ext = self.h_ext
        if isinstance(h_ext, torch.Tensor):
            h_ext_norm = float(torch.linalg.vector_norm(h_ext.detach(), dim=-1).max())
        else:
            h_ext_norm = float(np.linalg.norm(h_ext))
        demag = self.demag
        n_max = (
            float(demag.detach().abs().max())
            if isinstance(demag, torch.Tensor)
            else max(abs(x) for x in demag)
        )
        a_dl = (
            HBAR
            * mx("theta_sh")
            / (2.0 * E_CHARGE * MU0 * self._min("ms") * self._min("t_fm"))
        )
        return (
            h_ext_norm
            + mx("h_k")
            + mx("ms") * n_max
            + a_dl * j_abs_max * (1.0 + mx("beta_fl"))
        )

    def _min(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, torch.Tensor):
            return float(value.detach().abs().min())
        return abs(float(value))


def with_device_spread(
    p: SHNOParameters,
    n: int,
    spread: dict[str, float],
    generator: torch.Generator | None = None,
) -> SHNOParameters:
    """Draw per-neuron device parameters around the nominal ``p``.

    Args:
        p: nominal parameters (float fields).
        n: number of neurons.
        spread: relative standard deviation per field name, e.g.
            ``{"ms": 0.05, "alpha": 0.1, "theta_sh": 0.05, "h_k": 0.1}``. Each value
            is multiplied by ``1 + spread * N(0, 1)``, clipped to stay positive.
        generator: random source; the same seed gives the same devices.

    Returns:
        Parameters whose spread fields are float64 tensors of shape ``(n,)``.
    """
    allowed = ("ms", "alpha", "theta_sh", "h_k", "t_fm", "beta_fl")
    changes = {}
    for name, rel in spread.items():
        if name not in allowed:
            raise ValueError(
                f"with_device_spread: spread[{name!r}] is not supported; the accepted "
                f"fields are {allowed}."
            )
        if not (0.0 <= rel < 0.5):
            raise ValueError(
                f"with_device_spread: spread[{name!r}] = {rel!r} must lie in [0, 0.5) "
                "(a relative standard deviation)."
            )
        nominal = p._scalar(name)
        factor = 1.0 + rel * torch.randn(n, generator=generator, dtype=torch.float64)
        changes[name] = nominal * factor.clamp(min=0.05)
    return p.replace(**changes)
