package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import io.mqtstream.nn.Attention;
import io.mqtstream.nn.Bicubic;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import io.mqtstream.nn.SinCos2d;
import io.mqtstream.nn.Tensors;
import java.util.Arrays;
import java.util.Map;

/**
 * The Matryoshka Query Transformer exactly as the reference computes it (MQT-LLaVA's {@code
 * Resampler}, held in the model as {@code model.query_abstractor}): M latent queries on a square
 * grid read the patch features through ONE {@code nn.MultiheadAttention}, then {@code proj} maps
 * them to the LLM width.
 *
 * <ul>
 *   <li>queries: {@code ln_q(query[:m] + pos_embed[:m])}; {@code pos_embed} is the query grid's
 *       fixed 2-D sin-cos embedding in MAE's layout (column first), stored in fp16 and used as
 *       float;
 *   <li>keys: {@code ln_k(bicubic(pos_embed → the patch grid))}: positions only, no image content,
 *       so the attention weights do not depend on the image;
 *   <li>values: {@code ln_v(features)};
 *   <li>the attention's q, k, v projections packed in {@code attn.in_proj_weight/bias}, then {@code
 *       attn.out_proj}; LayerNorm ε = 1e-6; no post-norm, no value projection, no self-attention
 *       among queries: the m-token output is the first m rows of the M-token output.
 * </ul>
 *
 * <p>Parameter names are the checkpoint's ({@code query}, {@code pos_embed}, {@code
 * attn.in_proj_weight}, …, {@code proj}). M comes from the {@code query} rows; the reference
 * hard-codes 16 heads, which is not written in a checkpoint, so it is configured.
 */
public final class MqtResampler extends ModelBlock {
  /** LayerNorm ε of the reference ({@code partial(nn.LayerNorm, eps=1e-6)}). */
  public static final float LN_EPS = 1e-6f;

  /**
   * @param maxTokens M, a square (the query grid); 256 in MQT-LLaVA
   * @param kvDim the vision width (1024 for CLIP ViT-L)
   * @param embedDim the LLM width (4096 for Vicuna-7B)
   * @param heads attention heads (16 in the reference)
   */
  public record Config(int maxTokens, int kvDim, int embedDim, int heads) {
    public Config {
      int side = (int) Math.round(Math.sqrt(maxTokens));
      if (maxTokens < 1 || side * side != maxTokens) {
        throw new IllegalArgumentException("maxTokens must be a square (query grid): " + maxTokens);
      }
      if (kvDim % heads != 0 || kvDim % 4 != 0) {
        throw new IllegalArgumentException(
            "kvDim must be a multiple of heads and of 4: " + kvDim + ", " + heads);
      }
    }

    /** Side of the query grid. */
    public int gridSide() {
      return (int) Math.round(Math.sqrt(maxTokens));
    }
  }

  private final Config config;
  private final Parameter latentQueries; // "query" (M, Dv)
  private final Parameter positions; // "pos_embed" (M, Dv), fixed
  private final Parameter inProjWeight; // (3·Dv, Dv): q, k, v stacked
  private final Parameter inProjBias; // (3·Dv)
  private final Parameter outProjWeight; // (Dv, Dv)
  private final Parameter outProjBias; // (Dv)
  private final Norm lnQ;
  private final Norm lnK;
  private final Norm lnV;
  private final Parameter proj; // (Dv, E), used as x @ proj
  private volatile KeyCache keyCache; // the last resize; pos_embed is fixed, so it rarely changes

  /** A resize of {@code source} (pos_embed's values) to a rows × cols patch grid. */
  private record KeyCache(int rows, int cols, float[] source, float[] keys) {}

  public MqtResampler(Config config) {
    this.config = config;
    int d = config.kvDim();
    latentQueries = weight("query", new Shape(config.maxTokens(), d), 0.02f);
    positions =
        addParameter(
            Parameter.builder()
                .setName("pos_embed")
                .setType(Parameter.Type.OTHER)
                .optShape(new Shape(config.maxTokens(), d))
                .optRequiresGrad(false)
                .optInitializer(
                    (manager, shape, dataType) ->
                        manager
                            .create(
                                SinCos2d.embedColumnFirst(d, config.gridSide(), config.gridSide()),
                                shape)
                            .toType(DataType.FLOAT16, false) // built in float, stored in fp16
                            .toType(dataType, false))
                .build());
    inProjWeight = weight("in_proj_weight", new Shape(3L * d, d), 0.02f);
    inProjBias = bias("in_proj_bias", 3L * d);
    outProjWeight = weight("out_proj_weight", new Shape(d, d), 0.02f);
    outProjBias = bias("out_proj_bias", d);
    lnQ = addChildBlock("ln_q", new Norm(d, LN_EPS));
    lnK = addChildBlock("ln_k", new Norm(d, LN_EPS));
    lnV = addChildBlock("ln_v", new Norm(d, LN_EPS));
    proj =
        weight("proj", new Shape(d, config.embedDim()), (float) Math.pow(config.embedDim(), -0.5));
  }

  private Parameter weight(String name, Shape shape, float std) {
    return addParameter(
        Parameter.builder()
            .setName(name)
            .setType(Parameter.Type.WEIGHT)
            .optShape(shape)
            .optInitializer(new NormalInitializer(std))
            .build());
  }

  private Parameter bias(String name, long size) {
    return addParameter(
        Parameter.builder()
            .setName(name)
            .setType(Parameter.Type.BIAS)
            .optShape(new Shape(size))
            .optInitializer(Initializer.ZEROS)
            .build());
  }

  public Config config() {
    return config;
  }

  /**
   * The first m visual tokens of each image.
   *
   * @param features patch features (B, P, Dv), P = rows × cols of the patch grid, row-major
   * @param m latent queries used, 1..M
   * @param rows patch-grid rows (24 for CLIP ViT-L/14 at 336 px)
   * @param cols patch-grid columns
   * @return visual tokens (B, m, E)
   */
  public NDArray forward(
      ParameterStore ps, NDArray features, int m, int rows, int cols, boolean training) {
    if (m < 1 || m > config.maxTokens()) {
      throw new IllegalArgumentException("m must be in 1.." + config.maxTokens() + ", got " + m);
    }
    if (features.getShape().get(1) != (long) rows * cols) {
      throw new IllegalArgumentException(
          "features " + features.getShape() + " do not fill a " + rows + " × " + cols + " grid");
    }
    NDManager scope = features.getManager();
    int d = config.kvDim();
    NDArray pos = ps.getValue(positions, features.getDevice(), training);
    NDArray queries =
        ps.getValue(latentQueries, features.getDevice(), training).get(new NDIndex(":" + m));
    queries.attach(scope); // a slice of a parameter: this forward's, not the model's
    NDArray queryPos = pos.get(new NDIndex(":" + m));
    queryPos.attach(scope);
    NDArray q = lnQ.apply(ps, queries.add(queryPos), training); // (m, Dv)
    NDArray keys = keyPositions(scope, pos, rows, cols); // resized in float, as the reference
    NDArray k = lnK.apply(ps, keys.toType(features.getDataType(), false), training); // (P, Dv)
    NDArray v = lnV.apply(ps, features, training); // (B, P, Dv)

    NDArray w = ps.getValue(inProjWeight, features.getDevice(), training);
    NDArray b = ps.getValue(inProjBias, features.getDevice(), training);
    NDArray crossAttention =
        Attention.multiHead(
            project(scope, q, w, b, 0, d).expandDims(0), // (1, m, Dv)
            project(scope, k, w, b, 1, d).expandDims(0), // (1, P, Dv)
            project(scope, v, w, b, 2, d), // (B, P, Dv)
            config.heads(),
            null); // (B, m, Dv)
    NDArray out =
        Linear.linear(
                crossAttention,
                ps.getValue(outProjWeight, features.getDevice(), training),
                ps.getValue(outProjBias, features.getDevice(), training))
            .singletonOrThrow(); // (B, m, Dv)
    return out.matMul(ps.getValue(proj, features.getDevice(), training)); // (B, m, E)
  }

  /** x · W_iᵀ + b_i with the i-th (q = 0, k = 1, v = 2) block of the packed projection. */
  private static NDArray project(NDManager scope, NDArray x, NDArray w, NDArray b, int i, int d) {
    NDArray wi = w.get(new NDIndex(i * d + ":" + (i + 1) * d));
    NDArray bi = b.get(new NDIndex(i * d + ":" + (i + 1) * d));
    wi.attach(scope);
    bi.attach(scope);
    return Linear.linear(x, wi, bi).singletonOrThrow();
  }

  /** The query grid's positions resized bicubically to the patch grid: (rows·cols, Dv). */
  NDArray keyPositions(NDManager scope, NDArray pos, int rows, int cols) {
    float[] source =
        Tensors.toFloats(
            pos.getDataType() == DataType.FLOAT32 ? pos : pos.toType(DataType.FLOAT32, false));
    KeyCache c = keyCache;
    if (c == null || c.rows() != rows || c.cols() != cols || !Arrays.equals(c.source(), source)) {
      // resized once per grid and per pos_embed (a checkpoint load changes it), not per batch
      int side = config.gridSide();
      float[] keys = Bicubic.resize(source, side, side, config.kvDim(), rows, cols);
      c = new KeyCache(rows, cols, source, keys);
      keyCache = c;
    }
    return Tensors.create(scope, c.keys(), 0, new Shape((long) rows * cols, config.kvDim()));
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    out.put(prefix + ".query", latentQueries);
    out.put(prefix + ".pos_embed", positions);
    out.put(prefix + ".attn.in_proj_weight", inProjWeight);
    out.put(prefix + ".attn.in_proj_bias", inProjBias);
    out.put(prefix + ".attn.out_proj.weight", outProjWeight);
    out.put(prefix + ".attn.out_proj.bias", outProjBias);
    lnQ.collect(prefix + ".ln_q", out);
    lnK.collect(prefix + ".ln_k", out);
    lnV.collect(prefix + ".ln_v", out);
    out.put(prefix + ".proj", proj);
  }

  /**
   * DJL's {@code Block.forward}: features (B, P, Dv) of a square patch grid → (B, m, E), m from the
   * parameter {@code "m"} (default M).
   */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray features = inputs.singletonOrThrow();
    int[] grid = SinCos2d.grid(Math.toIntExact(features.getShape().get(1)));
    Object m = params == null ? null : params.get(MatryoshkaQueryTransformer.M);
    int tokens = m == null ? config.maxTokens() : ((Number) m).intValue();
    return new NDList(forward(ps, features, tokens, grid[0], grid[1], training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {new Shape(inputShapes[0].get(0), config.maxTokens(), config.embedDim())};
  }
}
