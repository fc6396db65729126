package io.mqtstream.reasoner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A batch under iteration-level ("continuous") batching: prompts join with {@link #admit} (a
 * batched prefill, then their cache rows are merged in), every {@link #step} decodes one token for
 * every active sequence, and finished sequences leave at once. Rows are left-padded to a common
 * length and padding is masked, so a sequence's tokens are the same alone or in any batch.
 *
 * <p>Native memory: the cache lives in this batch's manager and is replaced, old arrays closed, at
 * every step; temporaries live in a per-step manager closed at the end of the step.
 */
public final class DecodeBatch implements RunningBatch {
  private final Reasoner reasoner;
  private final DecoderLm lm;
  private final NDManager state;
  private final List<Sequence> sequences = new ArrayList<>();
  private KvCache cache;

  DecodeBatch(Reasoner reasoner) {
    this.reasoner = reasoner;
    this.lm = reasoner.lm();
    this.state = reasoner.manager().newSubManager();
  }

  @Override
  public int active() {
    return sequences.size();
  }

  /**
   * Prefills the prompts and adds them; returns any already finished. Prompts are prefilled in
   * chunks of at most {@link Reasoner#prefillChunkTokens()} padded positions, which bounds the
   * memory one prefill needs.
   */
  @Override
  public List<Completion> admit(List<Prompt> prompts) {
    List<Completion> finished = new ArrayList<>();
    int budget = reasoner.prefillChunkTokens();
    int from = 0;
    while (from < prompts.size()) {
      int to = from + 1;
      int longest = prompts.get(from).length();
      while (to < prompts.size()) {
        int l = Math.max(longest, prompts.get(to).length());
        if ((long) l * (to - from + 1) > budget) {
          break;
        }
        longest = l;
        to++;
      }
      finished.addAll(prefill(prompts.subList(from, to)));
      from = to;
    }
    return finished;
  }

  /** One batched prefill of prompts, left-padded to the longest. */
  private List<Completion> prefill(List<Prompt> prompts) {
    int n = prompts.size();
    int longest = prompts.stream().mapToInt(Prompt::length).max().orElseThrow();
    long[][] positions = new long[n][longest];
    float[][] pad = new float[n][longest];
    List<float[]> logits;
    KvCache fresh;
    try (NDManager step = state.newSubManager()) {
      ParameterStore ps = new ParameterStore(step, false);
      NDList rows = new NDList();
      for (int r = 0; r < n; r++) {
        Prompt p = prompts.get(r);
        int left = longest - p.length();
        NDArray e = reasoner.embed(ps, step, p, false); // (L_r, D)
        if (left > 0) {
          e = NDArrays.concat(new NDList(step.zeros(new Shape(left, e.getShape().get(1))), e), 0);
        }
        rows.add(e); // (longest, D)
        for (int t = 0; t < longest; t++) {
          positions[r][t] = Math.max(0, t - left);
          pad[r][t] = t < left ? DecoderLm.MASKED : 0f;
        }
      }
      int[] budgets = prompts.stream().mapToInt(Prompt::m).toArray();
      DecoderLm.Forward f = // (n, 1, V)
          lm.forward(ps, NDArrays.stack(rows), positions, pad, null, true, -1, budgets, false);
      logits = rowsOf(f.logits());
      fresh = keep(f.cache());
    }
    List<Sequence> joining = new ArrayList<>();
    for (Prompt p : prompts) {
      joining.add(new Sequence(p, p.length(), new Random(p.sampling().seed())));
    }
    merge(joining, fresh);
    return advance(logits, sequences.size() - n);
  }

  /** Decodes one token for every active sequence; returns the ones that finished. */
  @Override
  public List<Completion> step() {
    if (sequences.isEmpty()) {
      return List.of();
    }
    int b = sequences.size();
    long[][] last = new long[b][1];
    long[][] positions = new long[b][1];
    float[][] pad = new float[b][1];
    int[] budgets = new int[b];
    for (int r = 0; r < b; r++) {
      Sequence s = sequences.get(r);
      budgets[r] = s.prompt.m();
      last[r][0] = s.generated.get(s.generated.size() - 1);
      positions[r][0] = s.nextPosition;
    }
    List<float[]> logits;
    KvCache next;
    try (NDManager step = state.newSubManager()) {
      // Ops on the cache make arrays in the cache's manager (the batch's, long-lived): the cache
      // visits this step's manager so whatever is derived from it dies with the step.
      cache.keys().forEach(k -> k.tempAttach(step));
      cache.values().forEach(v -> v.tempAttach(step));
      ParameterStore ps = new ParameterStore(step, false);
      NDArray x = lm.embedTokens(ps, step, last, false); // (B, 1, D)
      DecoderLm.Forward f = // (B, 1, V)
          lm.forward(ps, x, positions, pad, cache, true, -1, budgets, false);
      logits = rowsOf(f.logits());
      next = keep(f.cache());
    }
    cache.close();
    cache = next;
    return advance(logits, 0);
  }

  /** Picks the next token of sequences from {@code first} on, then retires finished ones. */
  private List<Completion> advance(List<float[]> logits, int first) {
    long eos = reasoner.eos();
    int maxPositions = lm.config().maxPositions();
    List<Completion> finished = new ArrayList<>();
    boolean[] done = new boolean[sequences.size()];
    for (int i = 0; i < logits.size(); i++) {
      Sequence s = sequences.get(first + i);
      float[] row = logits.get(i);
      if (s.prompt.sampling().keepLogits()) {
        s.stepLogits.add(row);
      }
      long token = Sampler.pick(row, s.prompt.sampling(), s.random);
      s.nextPosition++;
      if (token == eos || s.prompt.sampling().stops(token)) {
        finished.add(s.complete(reasoner, Completion.Finish.STOP));
        done[first + i] = true;
        continue;
      }
      s.generated.add(token);
      if (s.generated.size() >= s.prompt.sampling().maxNewTokens()
          || s.nextPosition >= maxPositions) {
        finished.add(s.complete(reasoner, Completion.Finish.LENGTH));
        done[first + i] = true;
      }
    }
    retire(done);
    return finished;
  }

  private void merge(List<Sequence> joining, KvCache fresh) {
    if (cache == null) {
      cache = fresh;
    } else {
      int s = Math.max(cache.slots(), fresh.slots());
      KvCache a = padLeft(cache, s);
      KvCache b = padLeft(fresh, s);
      List<NDArray> keys = new ArrayList<>();
      List<NDArray> values = new ArrayList<>();
      for (int i = 0; i < a.keys().size(); i++) {
        keys.add(owned(NDArrays.concat(new NDList(a.keys().get(i), b.keys().get(i)), 0)));
        values.add(owned(NDArrays.concat(new NDList(a.values().get(i), b.values().get(i)), 0)));
      }
      float[][] pad = new float[a.padMask().length + b.padMask().length][];
      System.arraycopy(a.padMask(), 0, pad, 0, a.padMask().length);
      System.arraycopy(b.padMask(), 0, pad, a.padMask().length, b.padMask().length);
      closeAll(cache, a, fresh, b);
      cache = new KvCache(keys, values, pad);
    }
    sequences.addAll(joining);
  }

  /** The cache with {@code slots - S} masked zero slots in front of every row. */
  private KvCache padLeft(KvCache c, int slots) {
    int extra = slots - c.slots();
    if (extra == 0) {
      return c;
    }
    List<NDArray> keys = new ArrayList<>();
    List<NDArray> values = new ArrayList<>();
    for (int i = 0; i < c.keys().size(); i++) {
      NDArray k = c.keys().get(i);
      Shape s = k.getShape();
      NDArray zeros = state.zeros(new Shape(s.get(0), s.get(1), extra, s.get(3)));
      keys.add(owned(NDArrays.concat(new NDList(zeros, k), 2)));
      values.add(owned(NDArrays.concat(new NDList(zeros, c.values().get(i)), 2)));
      zeros.close();
    }
    float[][] pad = new float[c.padMask().length][slots];
    for (int r = 0; r < pad.length; r++) {
      Arrays.fill(pad[r], 0, extra, DecoderLm.MASKED);
      System.arraycopy(c.padMask()[r], 0, pad[r], extra, c.slots());
    }
    return new KvCache(keys, values, pad);
  }

  /** Drops finished rows from the cache, then slots that are padding in every remaining row. */
  private void retire(boolean[] done) {
    List<Integer> keep = new ArrayList<>();
    for (int r = 0; r < done.length; r++) {
      if (!done[r]) {
        keep.add(r);
      }
    }
    if (keep.size() == done.length) {
      return;
    }
    List<Sequence> kept = new ArrayList<>();
    keep.forEach(r -> kept.add(sequences.get(r)));
    sequences.clear();
    sequences.addAll(kept);
    if (keep.isEmpty()) {
      cache.close();
      cache = null;
      return;
    }
    int firstReal = cache.slots();
    for (int r : keep) {
      float[] row = cache.padMask()[r];
      int j = 0;
      while (j < row.length && row[j] != 0f) {
        j++;
      }
      firstReal = Math.min(firstReal, j);
    }
    long[] rows = keep.stream().mapToLong(Integer::longValue).toArray();
    NDIndex slots = new NDIndex(":, :, " + firstReal + ":, :");
    List<NDArray> keys = new ArrayList<>();
    List<NDArray> values = new ArrayList<>();
    for (int i = 0; i < cache.keys().size(); i++) {
      keys.add(select(cache.keys().get(i), rows, slots));
      values.add(select(cache.values().get(i), rows, slots));
    }
    float[][] pad = new float[keep.size()][];
    for (int i = 0; i < keep.size(); i++) {
      pad[i] = Arrays.copyOfRange(cache.padMask()[keep.get(i)], firstReal, cache.slots());
    }
    cache.close();
    cache = new KvCache(keys, values, pad);
  }

  /**
   * The kept rows' live slots. Indexing makes helper arrays in the manager of the array indexed,
   * which for the cache is this long-lived batch's: the cache array visits a scratch manager for
   * the operation, so the helpers die with it.
   */
  private NDArray select(NDArray kv, long[] rows, NDIndex slots) {
    try (NDManager scratch = state.newSubManager()) {
      kv.tempAttach(scratch);
      NDArray index = scratch.create(rows);
      NDArray out = kv.get(new NDIndex("{}", index)).get(slots); // (B', H, S', Dh)
      out.attach(state);
      return out;
    }
  }

  /** Moves a cache computed in a step's manager into this batch's. */
  private KvCache keep(KvCache c) {
    c.keys().forEach(this::owned);
    c.values().forEach(this::owned);
    return c;
  }

  private NDArray owned(NDArray a) {
    a.attach(state);
    return a;
  }

  private static void closeAll(KvCache... caches) {
    java.util.Set<KvCache> distinct =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    distinct.addAll(Arrays.asList(caches));
    distinct.forEach(KvCache::close);
  }

  private static List<float[]> rowsOf(NDArray logits) {
    int b = (int) logits.getShape().get(0);
    int v = (int) logits.getShape().get(2);
    float[] all = Tensors.toFloats(logits);
    List<float[]> rows = new ArrayList<>(b);
    for (int r = 0; r < b; r++) {
      rows.add(Arrays.copyOfRange(all, r * v, (r + 1) * v));
    }
    return rows;
  }

  /** Native arrays this batch holds now (tests: a long-lived batch must not grow). */
  int liveArrays() {
    return state.getManagedArrays().size();
  }

  @Override
  public void close() {
    if (cache != null) {
      cache.close();
      cache = null;
    }
    sequences.clear();
    state.close();
  }

  /** One sequence's decoding state. */
  private static final class Sequence {
    final Prompt prompt;
    final List<Long> generated = new ArrayList<>();
    final List<float[]> stepLogits = new ArrayList<>();
    final Random random;
    int nextPosition;

    Sequence(Prompt prompt, int promptLength, Random random) {
      this.prompt = prompt;
      this.nextPosition = promptLength - 1; // the last prompt position produced the first logits
      this.random = random;
    }

    Completion complete(Reasoner r, Completion.Finish finish) {
      long[] ids = generated.stream().mapToLong(Long::longValue).toArray();
      return new Completion(
          prompt, r.decode(ids), ids, prompt.length(), finish, List.copyOf(stepLogits));
    }
  }
}
