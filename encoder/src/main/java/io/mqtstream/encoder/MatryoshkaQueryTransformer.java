package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import io.mqtstream.nn.Attention;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import io.mqtstream.nn.Scalars;
import io.mqtstream.nn.SinCos2d;
import io.mqtstream.nn.Tensors;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * The Matryoshka Query Transformer (Hu et al. 2024): M learned latent queries read the patch
 * features through ONE multi-head cross-attention layer, then a linear projection to the LLM width.
 * The queries never attend to each other, so the output for the first m queries is exactly the
 * first m rows of the output for all M: {@link #forward(ParameterStore, NDArray, int, boolean)}
 * computes only those m, and an encoder may compute M once and slice.
 *
 * <p>As in the reference code: LayerNorm on the queries and on the projected features, fixed 2D
 * sin-cos positions on the query grid and the patch grid, keys made of the positions only ({@link
 * MqtConfig.KeyMode#POSITIONAL}) or of features plus positions ({@link MqtConfig.KeyMode#CONTENT}),
 * values made of the features. Optionally ({@link MqtConfig#tokenPositions()}) each token also
 * carries its query's fixed grid position, so it stays the first m rows of the M-token output.
 */
public final class MatryoshkaQueryTransformer extends ModelBlock {
  /** Name of the optional forward parameter that selects m. */
  public static final String M = "m";

  private final MqtConfig config;
  private final Parameter latentQueries;
  private final Dense kvProj;
  private final Norm lnQ;
  private final Norm lnKv;
  private final Dense qProj;
  private final Dense kProj;
  private final Dense vProj;
  private final Dense outProj;
  private final Norm lnPost;
  private final Dense proj;
  private final ByteBuffer queryPositions; // (M, D), native floats
  private final ByteBuffer keyPositions; // (P, D), native floats
  private final ByteBuffer tokenPositions; // (M, outputDim), native floats; null if not used

  public MatryoshkaQueryTransformer(MqtConfig config) {
    this.config = config;
    int d = config.dim();
    latentQueries =
        addParameter(
            Parameter.builder()
                .setName("latentQueries")
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(config.maxTokens(), d))
                .optInitializer(new NormalInitializer(0.02f))
                .build());
    kvProj = addChildBlock("kvProj", new Dense(config.featureDim(), d, false));
    lnQ = addChildBlock("lnQ", new Norm(d));
    lnKv = addChildBlock("lnKv", new Norm(d));
    qProj = addChildBlock("qProj", new Dense(d, d, true));
    kProj = addChildBlock("kProj", new Dense(d, d, true));
    vProj = addChildBlock("vProj", new Dense(d, d, true));
    outProj = addChildBlock("outProj", new Dense(d, d, true));
    lnPost = addChildBlock("lnPost", new Norm(d));
    proj = addChildBlock("proj", new Dense(d, config.outputDim(), false));
    float[] qPos = SinCos2d.embed(d, config.maxTokens());
    float[] kPos = SinCos2d.embed(d, config.patches());
    queryPositions = Tensors.direct(qPos, 0, qPos.length);
    keyPositions = Tensors.direct(kPos, 0, kPos.length);
    float[] tPos =
        config.tokenPositions() ? SinCos2d.embed(config.outputDim(), config.maxTokens()) : null;
    tokenPositions = tPos == null ? null : Tensors.direct(tPos, 0, tPos.length);
  }

  public MqtConfig config() {
    return config;
  }

  /**
   * The first m visual tokens of each image.
   *
   * @param features patch features (B, P, Dv)
   * @param m how many latent queries to use, 1..M
   * @return visual tokens (B, m, outputDim)
   */
  public NDArray forward(ParameterStore ps, NDArray features, int m, boolean training) {
    if (m < 1 || m > config.maxTokens()) {
      throw new IllegalArgumentException("m must be in 1.." + config.maxTokens() + ", got " + m);
    }
    var scope = features.getManager();
    int d = config.dim();
    NDArray x = lnKv.apply(ps, kvProj.apply(ps, features, training), training); // (B, P, D)

    NDArray queries =
        ps.getValue(latentQueries, features.getDevice(), training).get(new NDIndex(":" + m));
    // A slice of a parameter: owned by this forward's manager, not the model's.
    queries.attach(scope);
    ByteBuffer firstM = queryPositions.duplicate().limit(m * d * Float.BYTES);
    NDArray queryPos = Tensors.create(scope, firstM, new Shape(m, d)); // (m, D)
    NDArray q = lnQ.apply(ps, queries, training).add(queryPos).expandDims(0); // (1, m, D)

    NDArray keyPos =
        Tensors.create(scope, keyPositions, new Shape(1, config.patches(), d)); // (1, P, D)
    NDArray keys =
        config.keyMode() == MqtConfig.KeyMode.CONTENT ? x.add(keyPos) : keyPos; // (B|1, P, D)

    NDArray crossAttention =
        Attention.multiHead(
            qProj.apply(ps, q, training), // (1, m, D)
            kProj.apply(ps, keys, training), // (B|1, P, D)
            vProj.apply(ps, x, training), // (B, P, D)
            config.heads(),
            null); // (B, m, D)
    NDArray out =
        lnPost.apply(ps, outProj.apply(ps, crossAttention, training), training); // (B, m, D)
    NDArray tokens = proj.apply(ps, out, training); // (B, m, outputDim)
    if (tokenPositions == null) {
      return tokens;
    }
    ByteBuffer firstMTokens =
        tokenPositions.duplicate().limit(m * config.outputDim() * Float.BYTES);
    return tokens.add(
        Tensors.create(scope, firstMTokens, new Shape(m, config.outputDim()))); // (B, m, outputDim)
  }

  /**
   * Where every latent query looks: the cross-attention's scores before the softmax, per head. With
   * positional keys they depend on positions alone, not on the image, so one tensor holds them all
   * (the softmax over patches is each query's attention).
   *
   * @return scores (H, M, P), owned by {@code scope}
   * @throws IllegalStateException with content keys, where the scores depend on the image
   */
  public NDArray positionalScores(ParameterStore ps, NDManager scope, boolean training) {
    if (config.keyMode() != MqtConfig.KeyMode.POSITIONAL) {
      throw new IllegalStateException("attention depends on the image unless keys are positional");
    }
    int bigM = config.maxTokens();
    int d = config.dim();
    NDArray queries =
        ps.getValue(latentQueries, scope.getDevice(), training)
            .get(new NDIndex(":" + bigM)); // (M, D)
    queries.attach(scope); // a slice of a parameter: this call's, not the model's
    NDArray queryPos = Tensors.create(scope, queryPositions, new Shape(bigM, d)); // (M, D)
    NDArray q = lnQ.apply(ps, queries, training).add(queryPos).expandDims(0); // (1, M, D)
    NDArray keys =
        Tensors.create(scope, keyPositions, new Shape(1, config.patches(), d)); // (1, P, D)
    NDArray qh = Attention.splitHeads(qProj.apply(ps, q, training), config.heads()); // (1,H,M,dh)
    NDArray kh =
        Attention.splitHeads(kProj.apply(ps, keys, training), config.heads()); // (1,H,P,dh)
    long dh = qh.getShape().get(3);
    return Scalars.times(qh.matMul(kh.transpose(0, 1, 3, 2)), 1.0 / Math.sqrt(dh))
        .squeeze(0); // (H, M, P)
  }

  /** The latent queries, (M, D): the only parameter whose rows belong to one token each. */
  public Parameter latentQueries() {
    return latentQueries;
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    out.put(prefix + ".latent_queries", latentQueries);
    kvProj.collect(prefix + ".kv_proj", out);
    lnQ.collect(prefix + ".ln_q", out);
    lnKv.collect(prefix + ".ln_kv", out);
    qProj.collect(prefix + ".attn.q_proj", out);
    kProj.collect(prefix + ".attn.k_proj", out);
    vProj.collect(prefix + ".attn.v_proj", out);
    outProj.collect(prefix + ".attn.out_proj", out);
    lnPost.collect(prefix + ".ln_post", out);
    proj.collect(prefix + ".proj", out);
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    Object m = params == null ? null : params.get(M);
    int tokens = m == null ? config.maxTokens() : ((Number) m).intValue();
    return new NDList(forward(ps, inputs.singletonOrThrow(), tokens, training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {new Shape(inputShapes[0].get(0), config.maxTokens(), config.outputDim())};
  }
}
