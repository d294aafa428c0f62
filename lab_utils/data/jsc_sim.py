"""``jsc-sim``: an embedded, deterministic simulator of the jet substructure (JSC) data set.

The real data set (hls4ml, OpenML 42468) holds ~830k boosted jets at pT ~ 1 TeV, five classes
(g, q, w, z, t) and 16 high-level observables computed on the mMDT-groomed jet. This module
draws a small *toy jet* per sample and computes the same observables from it, so the features
inherit the correlations, skew and class overlaps of the physics instead of being independent
Gaussians. It is a teaching stand-in, not an event generator: anything computed on it is
labelled synthetic.

Generative model, per jet (all numpy, vectorised over jets):

1. **Latents.** Class label (balanced); jet pT ~ 1 TeV (log-normal, 35 %); a radiation
   *activity* factor A (log-normal, shared by everything that counts radiation; gluon showers
   fluctuate more: sigma 0.75 against 0.30); an effective colour factor C (2.2 for gluons,
   C_F = 4/3 for quarks; W/Z/top decay to quarks). Prongs: 1 for q/g, 2 for W/Z, 3 for top.
   True mass: W 80.4, Z 91.2, top 173 GeV (2 GeV natural spread); q/g: log-normal proportional
   to pT around ~27 GeV, gluons slightly higher and much broader (Student-t tail in log mass).
2. **Hard prongs** (3 slots, unit-free 2D angular positions, energy fractions z):
   1-prong jets carry their mass in one soft-collinear emission with dz/z on [z_cut, 1/2]
   (the first splitting mMDT keeps); 2-prong jets split with z ~ Beta(2, 2) (a W/Z splitting
   with z < z_cut = 0.1 is groomed to its harder quark and becomes a quark-like 1-prong jet);
   top = b + W(q q') with the W sub-mass built in, and in a few % the b is lost so the groomed
   jet is W-like.
3. **Soft emissions** (3 slots): energy ~ 0.012 * C * A * log^2(0.8 pT / m) (normalised;
   log-normal scatter; narrow light jets have more phase space), emitted from a hard prong
   (chosen by energy) at a log-uniform fraction of the hard opening angle. The whole configuration is then
   scaled so that its small-angle mass sum_{i<j} z_i z_j theta_ij^2 pT^2 equals the true mass.
4. **Detector.** Each constituent's energy is smeared (~10 %), its position jittered (absolute
   ~ 0.01 rad, a calorimeter-like granularity that hurts narrow jets most), and the jet
   energy scale by ~5 %. These give the groomed mass its ~9 % resolution, so W and Z overlap.
5. **Observables** from the smeared constituents, as in fastjet-contrib EnergyCorrelator:
   e2^(b) = sum z_i z_j theta_ij^b, e3^(b) = sum z_i z_j z_k (theta_ij theta_ik theta_jk)^b and
   the generalised 1e3 / 2e3 (product of the 1 / 2 smallest angles).
   C1 = e2, C2 = e3 / e2^2, D2 = e3 / e2^3, D2^(a=1,b) = e3^(1) / (e2^(b))^(3/b),
   M2 = 1e3 / e2, N2 = 2e3 / e2^2 (for b = 1, 2; C1 also for b = 0),
   mass_mmdt = pT sqrt(e2^(2)). Each ratio gets a small independent reconstruction noise (3 %),
   so the (alpha=1, beta=1) D2 is a near-copy of D2^(1), as in the real table.
   j_multiplicity: negative binomial (gamma-Poisson) whose mean grows with the colour factor,
   the number of prongs, pT and A (gluon > quark). j_zlogz = sum z log z over the groomed
   constituents plus the soft "mush" (a fraction ~ C*A spread over the remaining multiplicity),
   so wide, busy (gluon) jets are more negative.

Calibration (full size, seed 0, Adam lr 1e-3, 10 epochs, batch 512): the 16-64-32-32-5 MLP
reaches 76.8 % test accuracy, jsc-tiny 73.3 %, and the dominant confusions are q<->g and w<->z
(tests/data/test_jsc_sim.py checks a small version of this).
Bump :data:`VERSION` whenever generated numbers change: the data cache is keyed on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lab_utils.data.jsc import JSC_CLASSES, JSC_FEATURES, preprocess_jsc
from lab_utils.data.splits import Splits, cache_file, read_cache, to_splits, write_cache
from lab_utils.errors import LabError

VERSION = "v2"

CLASSES = ("g", "q", "w", "z", "t")
ZCUT = 0.1  # mMDT z_cut
_N_HARD, _N_SOFT = 3, 3
_K = _N_HARD + _N_SOFT
# Pair and triple index lists over the K constituent slots (15 pairs, 20 triples).
_PAIRS = np.array([(i, j) for i in range(_K) for j in range(i + 1, _K)])
_TRIPLES = np.array([(i, j, k) for i in range(_K) for j in range(i + 1, _K) for k in range(j + 1, _K)])
_PAIR_INDEX = {tuple(p): n for n, p in enumerate(_PAIRS)}
_TRIPLE_PAIRS = np.array([[_PAIR_INDEX[(i, j)], _PAIR_INDEX[(i, k)], _PAIR_INDEX[(j, k)]] for i, j, k in _TRIPLES])

# Per-class parameters (index = class: g, q, w, z, t).
_COLOUR = np.array([2.2, 4 / 3, 4 / 3, 4 / 3, 4 / 3])  # effective (C_A/C_F = 2.25 softened by hadronisation)
_PRONGS = np.array([1, 1, 2, 2, 3])
_MULT_MEAN = np.array([34.0, 31.0, 37.0, 39.0, 50.0])  # at pT = 1 TeV, A = 1
M_W, M_Z, M_TOP = 80.4, 91.2, 173.0
TOP_B_LOST = 0.06  # fraction of tops whose b falls outside the groomed jet


def _balanced_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """n // 5 per class, the remainder spread over the first classes, in a shuffled order."""
    return rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)


def _qcd_mass(rng, n, gluon: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Groomed mass of a 1-prong jet: log-normal, gluons higher and with a Student-t tail."""
    mu = np.where(gluon, np.log(28.0), np.log(26.0)) + np.log(pt / 1000.0)
    sigma = np.where(gluon, 0.85, 0.40)
    tail = np.where(gluon, rng.standard_t(4, n), rng.standard_normal(n))
    return np.clip(np.exp(mu + sigma * tail), 3.0, 400.0)


def _latents(rng: np.random.Generator, y: np.ndarray) -> dict:
    n = y.shape[0]
    pt = 1000.0 * np.exp(0.35 * rng.standard_normal(n))
    # Radiation activity: gluon showers fluctuate more (broader, heavier-tailed distributions).
    activity = np.exp(np.where(y == 0, 0.75, 0.30) * rng.standard_normal(n))
    prongs = _PRONGS[y].copy()
    # Resonance masses: a narrow natural spread (widths ~2 GeV); the detector adds the rest.
    mass = np.choose(np.clip(y - 2, 0, 2), [M_W, M_Z, M_TOP]) + 2.0 * rng.standard_normal(n)
    m_w_sub = M_W + 2.0 * rng.standard_normal(n)  # W inside the top
    b_lost = (y == 4) & (rng.random(n) < TOP_B_LOST)
    prongs[b_lost] = 2
    mass[b_lost] = m_w_sub[b_lost]
    z2 = rng.beta(2.0, 2.0, n)  # 2-prong momentum sharing
    groomed = (prongs == 2) & (np.minimum(z2, 1 - z2) < ZCUT)  # mMDT drops the softer quark
    prongs[groomed] = 1
    qcd = prongs == 1
    mass[qcd] = _qcd_mass(rng, int(qcd.sum()), (y == 0)[qcd], pt[qcd] * np.where(groomed[qcd], np.maximum(z2, 1 - z2)[qcd], 1.0))
    return {"pt": pt, "activity": activity, "prongs": prongs, "mass": mass, "m_w_sub": m_w_sub, "z2": z2,
            "colour": _COLOUR[y]}


def _rotate(rng, n) -> np.ndarray:
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(phi), np.sin(phi)], axis=1)


def _constituents(rng: np.random.Generator, lat: dict) -> tuple[np.ndarray, np.ndarray]:
    """Energy fractions (n, K) and 2D angular positions (n, K, 2) of the groomed toy jet."""
    n = lat["pt"].shape[0]
    prongs, pt = lat["prongs"], lat["pt"]
    z = np.zeros((n, _K))
    pos = np.zeros((n, _K, 2))
    # 1-prong: the soft-collinear emission that sets the mass, dz/z on [zcut, 1/2].
    z1 = ZCUT * (0.5 / ZCUT) ** rng.random(n)
    # 2-prong: the resonance splitting (the Beta(2,2) sharing drawn with the latents).
    zs = np.where(prongs == 1, z1, lat["z2"])
    z[:, 0], z[:, 1] = 1 - zs, zs
    pos[:, 0, 0], pos[:, 1, 0] = -zs, 1 - zs  # unit opening angle, centred on the jet axis
    # 3-prong: b + W(q q'), opening angles solved so the W sub-mass and the top mass come out.
    top = prongs == 3
    nt = int(top.sum())
    zb = 0.1 + 0.6 * rng.beta(2.0, 2.5, nt)
    w = 1 - zb
    zw = 0.15 + 0.7 * rng.random(nt)
    mw, mt = lat["m_w_sub"][top], lat["mass"][top]
    th_qq = mw / (pt[top] * w * np.sqrt(zw * (1 - zw)))
    th_bw = np.sqrt(np.maximum(mt**2 - mw**2 / w, 100.0) / (zb * w)) / pt[top]
    dirn = _rotate(rng, nt)
    perp = np.stack([-dirn[:, 1], dirn[:, 0]], axis=1)
    pb = -w[:, None] * th_bw[:, None] * dirn
    pw = zb[:, None] * th_bw[:, None] * dirn
    pos[top, 0] = pw - zw[:, None] * th_qq[:, None] * perp
    pos[top, 1] = pw + (1 - zw)[:, None] * th_qq[:, None] * perp
    pos[top, 2] = pb
    z[top, 0], z[top, 1], z[top, 2] = w * (1 - zw), w * zw, zb
    # Soft emissions from a hard prong (chosen by energy), at a log-uniform fraction of the
    # smallest hard opening angle: radiation stays inside the groomed jet (angular ordering).
    hard_pairs = [(0, 1), (0, 2), (1, 2)]
    d = np.stack([np.linalg.norm(pos[:, i] - pos[:, j], axis=1) for i, j in hard_pairs], axis=1)
    d = np.where(np.stack([np.ones(n, bool), top, top], axis=1), d, np.inf)
    scale = d.min(axis=1)
    # Sudakov-like phase space: emissions grow as log^2(R pT / m), so narrow (light) jets radiate more.
    logs = (np.maximum(np.log(0.8 * pt / lat["mass"]), 1.0) / np.log(800.0 / 26.0)) ** 2
    zeta = (0.012 * lat["colour"] * lat["activity"] * logs)[:, None] * np.exp(0.7 * rng.standard_normal((n, _N_SOFT)))
    zeta = np.minimum(zeta, 0.25)
    cum = np.cumsum(z[:, :_N_HARD], axis=1)
    parent = (rng.random((n, _N_SOFT, 1)) * cum[:, None, -1:] > cum[:, None, :]).sum(axis=2)
    frac = np.exp(np.log(0.05) * rng.random((n, _N_SOFT)))
    for k in range(_N_SOFT):
        off = (frac[:, k] * scale)[:, None] * _rotate(rng, n)
        pos[:, _N_HARD + k] = pos[np.arange(n), parent[:, k]] + off
    z[:, :_N_HARD] *= 1 - zeta.sum(axis=1, keepdims=True)
    z[:, _N_HARD:] = zeta
    # Scale the angles so the small-angle mass equals the true mass.
    m2 = _chunked(lambda zc, pc: {"m2": _ecf2(zc, _pair_angles(pc), 2.0)}, z, pos)["m2"]
    pos *= (lat["mass"] / pt / np.sqrt(m2))[:, None, None]
    return z, pos


def _pair_angles(pos: np.ndarray) -> np.ndarray:
    diff = pos[:, _PAIRS[:, 0]] - pos[:, _PAIRS[:, 1]]
    return np.hypot(diff[..., 0], diff[..., 1])


def _ecf2(z: np.ndarray, theta: np.ndarray, beta: float) -> np.ndarray:
    w = z[:, _PAIRS[:, 0]] * z[:, _PAIRS[:, 1]]
    if beta == 0.0:
        return w.sum(axis=1)
    return (w * (theta if beta == 1.0 else theta**beta)).sum(axis=1)


def _ecf3(z: np.ndarray, theta: np.ndarray, betas=(1.0, 2.0)) -> dict:
    """{beta: (e3, 1e3, 2e3)}: all three angles, the smallest one, the two smallest (generalised ECFs).

    The min / median / max of each triple's three angles are taken once with element-wise
    min/max (a sort along a length-3 axis is several times slower) and raised to each beta.
    """
    w = z[:, _TRIPLES[:, 0]] * z[:, _TRIPLES[:, 1]] * z[:, _TRIPLES[:, 2]]
    a, b, c = (theta[:, _TRIPLE_PAIRS[:, i]] for i in range(3))
    lo_ab, hi_ab = np.minimum(a, b), np.maximum(a, b)
    mn, mx = np.minimum(lo_ab, c), np.maximum(hi_ab, c)
    mid = np.maximum(lo_ab, np.minimum(hi_ab, c))
    out = {}
    for beta in betas:
        p_mn, p_mid, p_mx = (v if beta == 1.0 else v**beta for v in (mn, mid, mx))
        w_mn = w * p_mn
        w_mn_mid = w_mn * p_mid
        out[beta] = ((w_mn_mid * p_mx).sum(axis=1), w_mn.sum(axis=1), w_mn_mid.sum(axis=1))
    return out


def _ecfs(z: np.ndarray, pos: np.ndarray) -> dict:
    theta = _pair_angles(pos)
    out = {f"e2_{b}": _ecf2(z, theta, b) for b in (0.0, 1.0, 2.0)}
    for b, (e3, e3_1, e3_2) in _ecf3(z, theta).items():
        out[f"e3_{b}"], out[f"1e3_{b}"], out[f"2e3_{b}"] = e3, e3_1, e3_2
    return out


def _chunked(fn, z: np.ndarray, pos: np.ndarray, chunk: int = 32768) -> dict:
    """Apply a per-jet function in blocks of jets: the (jets x 20 triples) temporaries then stay
    in cache, which halves the time of the full-size data set (no randomness in here)."""
    parts = [fn(z[i:i + chunk], pos[i:i + chunk]) for i in range(0, z.shape[0], chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _detector(rng, z: np.ndarray, pos: np.ndarray, pt: np.ndarray):
    n = z.shape[0]
    z = z * np.exp(0.10 * rng.standard_normal(z.shape))
    z /= z.sum(axis=1, keepdims=True)
    pos = pos + 0.01 * rng.standard_normal(pos.shape)
    pt_obs = pt * (1 + 0.05 * rng.standard_normal(n))
    return z, pos, pt_obs


def _observables(rng, y, lat, z, pos) -> np.ndarray:
    n = y.shape[0]
    pt = lat["pt"]
    z, pos, pt_obs = _detector(rng, z, pos, pt)
    ecf = _chunked(_ecfs, z, pos)
    e2 = {b: ecf[f"e2_{b}"] for b in (0.0, 1.0, 2.0)}
    e3 = {b: (ecf[f"e3_{b}"], ecf[f"1e3_{b}"], ecf[f"2e3_{b}"]) for b in (1.0, 2.0)}
    noise = lambda: np.exp(0.03 * rng.standard_normal(n))  # noqa: E731 - per-observable reconstruction noise
    cols = {
        "j_c1_b0_mmdt": e2[0.0] * noise(),
        "j_c1_b1_mmdt": e2[1.0] * noise(),
        "j_c1_b2_mmdt": e2[2.0] * noise(),
        "j_c2_b1_mmdt": e3[1.0][0] / e2[1.0] ** 2 * noise(),
        "j_c2_b2_mmdt": e3[2.0][0] / e2[2.0] ** 2 * noise(),
        "j_d2_b1_mmdt": e3[1.0][0] / e2[1.0] ** 3 * noise(),
        "j_d2_b2_mmdt": e3[2.0][0] / e2[2.0] ** 3 * noise(),
        "j_d2_a1_b1_mmdt": e3[1.0][0] / e2[1.0] ** 3 * noise(),
        "j_d2_a1_b2_mmdt": e3[1.0][0] / e2[2.0] ** 1.5 * noise(),
        "j_m2_b1_mmdt": e3[1.0][1] / e2[1.0] * noise(),
        "j_m2_b2_mmdt": e3[2.0][1] / e2[2.0] * noise(),
        "j_n2_b1_mmdt": e3[1.0][2] / e2[1.0] ** 2 * noise(),
        "j_n2_b2_mmdt": e3[2.0][2] / e2[2.0] ** 2 * noise(),
        "j_mass_mmdt": pt_obs * np.sqrt(e2[2.0]),
    }
    # Multiplicity: gamma-Poisson (negative binomial, shape 12) around a colour/prong/pT/activity mean.
    mean = _MULT_MEAN[y] * (pt / 1000.0) ** 0.8 * lat["activity"] ** 0.8
    mult = rng.poisson(mean * rng.gamma(12.0, 1 / 12.0, n))
    mult = np.maximum(mult, (z > 0).sum(axis=1) + 1)
    # zlogz: the groomed constituents plus the soft "mush" spread over the other particles.
    f = np.clip(0.06 * lat["colour"] * lat["activity"] * np.exp(0.25 * rng.standard_normal(n)), 0.01, 0.6)
    zg = z * (1 - f)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        hard = np.where(zg > 0, zg * np.log(zg), 0.0).sum(axis=1)
    m_rest = np.maximum(mult - (z > 0).sum(axis=1), 1)
    zlogz = hard + f * np.log(f / m_rest)
    order = {"j_zlogz": zlogz, **cols, "j_multiplicity": mult.astype(np.float64)}

    return np.stack([order[name] for name in JSC_FEATURES], axis=1).astype(np.float32)


def generate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``n`` jets: raw features ``x`` float32 (n, 16) in ``JSC_FEATURES`` order, labels int64.

    Labels 0..4 = g, q, w, z, t, balanced (n // 5 each, remainder to the first classes), in a
    shuffled order. Same ``(n, seed)``, same bytes.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise LabError(f"jsc-sim n must be a whole number >= 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise LabError(f"jsc-sim seed must be a whole number >= 0, got {seed!r}")
    rng = np.random.default_rng([int(seed), 0x15C])
    y = _balanced_labels(rng, int(n))
    lat = _latents(rng, y)
    z, pos = _constituents(rng, lat)
    x = _observables(rng, y, lat, z, pos)
    return x, y


def load_jsc_sim(n: int, seed: int, val_fraction: float, data_dir: Path) -> Splits:
    """Simulate ``n`` jets (cached by size, seed and split) as preprocessed :class:`Splits`."""
    if int(n) < 100:
        raise LabError(f"jsc-sim needs at least 100 samples, got {n}")
    args = {"n": int(n), "seed": int(seed), "val_fraction": float(val_fraction)}
    path = cache_file(data_dir, "jsc-sim", VERSION, args)
    arrays = read_cache(path)
    if arrays is None:
        x, y = generate(int(n), seed=int(seed))
        arrays = preprocess_jsc(x, y, val_fraction=val_fraction)
        write_cache(path, arrays)
    info = {"n_raw": int(arrays["n_raw"]), "n_duplicates": int(arrays["n_duplicates"]), "data_seed": int(seed)}
    return to_splits("jsc-sim", VERSION, True, arrays, JSC_FEATURES, JSC_CLASSES, info)

