package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import io.mqtstream.nn.Attention;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import io.mqtstream.nn.Scalars;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The CLIP vision tower LLaVA and MQT-LLaVA use (ViT-L/14-336), with Hugging Face {@code
 * CLIPVisionModel}'s semantics and tensor names ({@code vision_model.*}), so a downloaded tower's
 * weights load unchanged: a patch convolution without bias, a class token, learned positions,
 * {@code pre_layrnorm}, pre-LN encoder layers with separate q/k/v projections and a quick-GELU MLP.
 * The features are the hidden state LLaVA selects ({@code mm_vision_select_layer}, −2), without the
 * class token for {@code patch}; layers past it are not run, and {@code post_layernorm} (which only
 * the pooled output uses) is never applied.
 */
public final class ClipVisionTower extends ModelBlock implements VisionBackbone {
  private final ClipVisionConfig config;
  private final Parameter classEmbedding; // (D)
  private final Parameter patchEmbedding; // (D, 3, p, p), no bias
  private final Parameter positionEmbedding; // (P + 1, D)
  private final Norm preLayrnorm;
  private final List<Layer> layers = new ArrayList<>();

  public ClipVisionTower(ClipVisionConfig config) {
    this.config = config;
    int d = config.hiddenSize();
    int p = config.patchSize();
    int positions = config.grid() * config.grid() + 1;
    classEmbedding = addParameter(parameter("class_embedding", new Shape(d)));
    patchEmbedding = addParameter(parameter("patch_embedding", new Shape(d, 3, p, p)));
    positionEmbedding = addParameter(parameter("position_embedding", new Shape(positions, d)));
    preLayrnorm = addChildBlock("pre_layrnorm", new Norm(d, config.layerNormEps()));
    for (int i = 0; i < config.layersRun(); i++) {
      layers.add(addChildBlock("layer" + i, new Layer(config)));
    }
  }

  private static Parameter parameter(String name, Shape shape) {
    return Parameter.builder()
        .setName(name)
        .setType(Parameter.Type.WEIGHT)
        .optShape(shape)
        .optInitializer(new NormalInitializer(0.02f))
        .build();
  }

  public ClipVisionConfig config() {
    return config;
  }

  /**
   * @param images (B, 3, S, S), normalised as {@link ClipImageProcessor} does
   * @return the selected hidden state, (B, P, D) for {@code patch}, (B, P + 1, D) for {@code
   *     cls_patch}
   */
  @Override
  public NDArray features(ParameterStore ps, NDArray images, boolean training) {
    long b = images.getShape().get(0);
    int g = config.grid();
    int p = config.patchSize();
    int d = config.hiddenSize();
    NDArray w = ps.getValue(patchEmbedding, images.getDevice(), training).reshape(d, 3L * p * p);
    images = images.toType(w.getDataType(), false); // the model's type (fp32, bf16, fp16)
    NDArray patches = VisionBackbone.patches(images, g, p); // (B, P, 3·p·p)
    NDArray patchEmbeds = patches.matMul(w.transpose()); // (B, P, D), row-major over the grid
    NDArray cls =
        ps.getValue(classEmbedding, images.getDevice(), training)
            .reshape(1, 1, d)
            .broadcast(b, 1, d); // (B, 1, D)
    NDArray x =
        NDArrays.concat(new NDList(cls, patchEmbeds), 1)
            .add(ps.getValue(positionEmbedding, images.getDevice(), training)); // (B, P+1, D)
    x = preLayrnorm.apply(ps, x, training); // hidden state 0
    for (Layer layer : layers) {
      x = layer.apply(ps, x, training); // (B, P+1, D)
    }
    return config.selectFeature().equals("patch") ? x.get(new NDIndex(":, 1:, :")) : x;
  }

  @Override
  public int patches() {
    return config.features();
  }

  @Override
  public int featureDim() {
    return config.hiddenSize();
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    out.put(prefix + ".embeddings.class_embedding", classEmbedding);
    out.put(prefix + ".embeddings.patch_embedding.weight", patchEmbedding);
    out.put(prefix + ".embeddings.position_embedding.weight", positionEmbedding);
    preLayrnorm.collect(prefix + ".pre_layrnorm", out);
    for (int i = 0; i < layers.size(); i++) {
      layers.get(i).collect(prefix + ".encoder.layers." + i, out);
    }
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(features(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {new Shape(inputShapes[0].get(0), config.features(), config.hiddenSize())};
  }

  /** {@code CLIPEncoderLayer}: x + attn(ln1(x)), then x + mlp(ln2(x)). */
  private static final class Layer extends ModelBlock {
    private final int heads;
    private final boolean quickGelu;
    private final Norm layerNorm1;
    private final Dense qProj;
    private final Dense kProj;
    private final Dense vProj;
    private final Dense outProj;
    private final Norm layerNorm2;
    private final Dense fc1;
    private final Dense fc2;

    Layer(ClipVisionConfig c) {
      int d = c.hiddenSize();
      heads = c.heads();
      quickGelu = c.hiddenAct().equals("quick_gelu");
      layerNorm1 = addChildBlock("layer_norm1", new Norm(d, c.layerNormEps()));
      qProj = addChildBlock("q_proj", new Dense(d, d, true));
      kProj = addChildBlock("k_proj", new Dense(d, d, true));
      vProj = addChildBlock("v_proj", new Dense(d, d, true));
      outProj = addChildBlock("out_proj", new Dense(d, d, true));
      layerNorm2 = addChildBlock("layer_norm2", new Norm(d, c.layerNormEps()));
      fc1 = addChildBlock("fc1", new Dense(d, c.intermediateSize(), true));
      fc2 = addChildBlock("fc2", new Dense(c.intermediateSize(), d, true));
    }

    /** (B, N, D) → (B, N, D). */
    NDArray apply(ParameterStore ps, NDArray x, boolean training) {
      NDArray h = layerNorm1.apply(ps, x, training);
      NDArray attended =
          Attention.multiHead(
              qProj.apply(ps, h, training),
              kProj.apply(ps, h, training),
              vProj.apply(ps, h, training),
              heads,
              null); // (B, N, D), no mask: every token sees every token
      x = x.add(outProj.apply(ps, attended, training));
      NDArray hidden = fc1.apply(ps, layerNorm2.apply(ps, x, training), training); // (B, N, F)
      hidden =
          quickGelu
              ? hidden.mul(Activation.sigmoid(Scalars.times(hidden, 1.702))) // x·σ(1.702x)
              : Activation.gelu(hidden);
      return x.add(fc2.apply(ps, hidden, training)); // (B, N, D)
    }

    @Override
    public void collect(String prefix, Map<String, Parameter> out) {
      layerNorm1.collect(prefix + ".layer_norm1", out);
      qProj.collect(prefix + ".self_attn.q_proj", out);
      kProj.collect(prefix + ".self_attn.k_proj", out);
      vProj.collect(prefix + ".self_attn.v_proj", out);
      outProj.collect(prefix + ".self_attn.out_proj", out);
      layerNorm2.collect(prefix + ".layer_norm2", out);
      fc1.collect(prefix + ".mlp.fc1", out);
      fc2.collect(prefix + ".mlp.fc2", out);
    }

    @Override
    protected NDList forwardInternal(
        ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
      return new NDList(apply(ps, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
      return inputShapes;
    }
  }
}
