# Summary of bench_models (C++) and bench_models_torch.py (PyTorch) results: the best of the runs
# of each implementation, per model, and the ratios LibTorch / PyTorch (goal: training >= 1.0).
/^RESULT / {
  impl = ""; model = ""
  for (i = 2; i <= NF; ++i) {
    split($i, kv, "=")
    if (kv[1] == "impl") impl = kv[2]
    else if (kv[1] == "model") model = kv[2]
    else value[kv[1]] = kv[2]
  }
  if (!(model in seen)) { seen[model] = 1; order[++n] = model }
  for (k in value) {
    key = impl SUBSEP model SUBSEP k
    if (!(key in best) || value[k] + 0 > best[key] + 0) best[key] = value[k]
  }
  delete value
}
END {
  printf "  %-12s %10s %10s %10s %7s %7s | %10s %10s %10s %7s\n", "model", "train C++", "(NCHW)", "PyTorch", "ratio", "(NCHW)",
         "infer C++", "(NCHW)", "PyTorch", "ratio"
  worst = 1e30
  for (i = 1; i <= n; ++i) {
    m = order[i]
    tc = best["libtorch", m, "train_samples_per_cpu_s"]; tn = best["libtorch-nchw", m, "train_samples_per_cpu_s"]
    tp = best["pytorch", m, "train_samples_per_cpu_s"]
    ic = best["libtorch", m, "infer_samples_per_cpu_s"]; inc = best["libtorch-nchw", m, "infer_samples_per_cpu_s"]
    ip = best["pytorch", m, "infer_samples_per_cpu_s"]
    if (tp <= 0 || ip <= 0) continue
    printf "  %-12s %10.1f %10.1f %10.1f %7.2f %7.2f | %10.1f %10.1f %10.1f %7.2f\n", m, tc, tn, tp, tc / tp, tn / tp, ic, inc, ip, ic / ip
    if (tc / tp < worst) worst = tc / tp
  }
  printf "  (samples per second from the median CPU time of a step, 1 thread; C++: channels-last weights, tmdflow's fast path; (NCHW): default layout)\n"
  if (n > 0) printf "  goal: training throughput per core >= PyTorch for each family: worst ratio %.2f %s\n", worst, (worst >= 1.0 ? "PASS" : "MISS")
}
