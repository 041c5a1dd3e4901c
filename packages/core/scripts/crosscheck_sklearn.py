"""Compares lrpseg's k-means + GMM fit and PR/AP with scikit-learn (development check, not CI).

    node packages/core/scripts/crosscheck-dump.mjs R.npy OUT [scale]
    python3 packages/core/scripts/crosscheck_sklearn.py OUT
"""
import json, sys, os
import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.metrics import average_precision_score, precision_recall_curve

out = sys.argv[1]
ours = json.load(open(os.path.join(out, 'ours.json')))
f = np.load(os.path.join(out, 'f.npy'))
post = np.load(os.path.join(out, 'posterior.npy'))
worst = 0.0
for i, r in enumerate(ours['gmm']):
    x = f[i].reshape(-1, 1)
    init = np.quantile(x[:, 0], [1 / 6, 1 / 2, 5 / 6]).reshape(-1, 1)
    km = KMeans(n_clusters=3, init=init, n_init=1, max_iter=300, tol=0, algorithm='lloyd').fit(x)
    resp = np.zeros((x.shape[0], 3)); resp[np.arange(x.shape[0]), km.labels_] = 1
    nk = resp.sum(0) + 10 * np.finfo(float).eps
    means = resp.T @ x / nk[:, None]
    var = np.array([(resp[:, k] * (x[:, 0] - means[k, 0]) ** 2).sum() / nk[k] for k in range(3)]) + 1e-6
    gm = GaussianMixture(3, covariance_type='full', tol=1e-3, reg_covar=1e-6, max_iter=100,
                         weights_init=nk / x.shape[0], means_init=means, precisions_init=(1 / var).reshape(3, 1, 1)).fit(x)
    p = gm.predict_proba(x)
    dmg = int(np.argmax(gm.predict_proba(x.max().reshape(1, 1))[0]))
    d_post = np.abs(p[:, dmg] - post[i].reshape(-1)).max()
    d_mean = np.abs(gm.means_[:, 0] - np.array(r['means'])).max()
    d_var = np.abs(gm.covariances_[:, 0, 0] - np.array(r['variances'])).max()
    area = int((p[:, dmg] > 0.5).sum())
    worst = max(worst, d_post)
    print(f"map {i}: sklearn n_iter {gm.n_iter_} (ours {r['rounds']}), kmeans iters {km.n_iter_} (ours {r['kmeansRounds']}), "
          f"damage {dmg} (ours {r['damage']}), |Δmean| {d_mean:.2e}, |Δvar| {d_var:.2e}, max|Δposterior| {d_post:.2e}, area {area} (ours {r['area']})")
s = np.load(os.path.join(out, 'pr-scores.npy')); l = np.load(os.path.join(out, 'pr-labels.npy'))
ap = average_precision_score(l, s)
pr, rc, th = precision_recall_curve(l, s)
print(f"AP sklearn {ap!r} ours {ours['ap']!r} |Δ| {abs(ap - ours['ap']):.2e}; curve points {len(th)} (ours {len(ours['thresholds'])}), "
      f"max|Δprecision| {np.abs(pr - ours['precision']).max():.2e}, max|Δrecall| {np.abs(rc - ours['recall']).max():.2e}")
