package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import io.mqtstream.nn.SinCos2d;
import io.mqtstream.nn.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The small vision transformer of the {@code mqt-tiny} preset: a linear patch embedding (or a
 * {@link ConvStem}) plus fixed 2D sin-cos positions, L pre-LN transformer layers, a final
 * LayerNorm. Trained here from scratch.
 */
public final class TinyViT extends ModelBlock implements VisionBackbone {
  private final VitConfig config;
  private final Dense patchEmbed; // null with the conv stem
  private final ConvStem stem; // null with the linear embedding
  private final List<TransformerLayer> layers = new ArrayList<>();
  private final Norm lnPost;
  private final java.nio.ByteBuffer positions; // (P, Dv), native floats

  public TinyViT(VitConfig config) {
    this.config = config;
    int p = config.patchSize();
    if (config.stem() == VitConfig.Stem.CONV) {
      patchEmbed = null;
      stem = addChildBlock("stem", new ConvStem(p, config.dim()));
    } else {
      patchEmbed = addChildBlock("patchEmbed", new Dense(3 * p * p, config.dim(), true));
      stem = null;
    }
    for (int i = 0; i < config.layers(); i++) {
      layers.add(
          addChildBlock(
              "layer" + i, new TransformerLayer(config.dim(), config.heads(), config.mlpRatio())));
    }
    lnPost = addChildBlock("lnPost", new Norm(config.dim()));
    float[] pos = SinCos2d.embed(config.dim(), config.grid(), config.grid());
    positions = Tensors.direct(pos, 0, pos.length);
  }

  @Override
  public NDArray features(ParameterStore ps, NDArray images, boolean training) {
    int g = config.grid();
    int p = config.patchSize();
    NDArray pos =
        Tensors.create(images.getManager(), positions, new Shape(config.patches(), config.dim()));
    NDArray embedded =
        stem != null
            ? stem.apply(ps, images, training) // (B, P, Dv)
            : patchEmbed.apply(ps, VisionBackbone.patches(images, g, p), training); // (B, P, Dv)
    NDArray x = embedded.add(pos); // (B, P, Dv)
    for (TransformerLayer layer : layers) {
      x = layer.apply(ps, x, training); // (B, P, Dv)
    }
    return lnPost.apply(ps, x, training); // (B, P, Dv)
  }

  @Override
  public int patches() {
    return config.patches();
  }

  @Override
  public int featureDim() {
    return config.dim();
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    if (stem != null) {
      stem.collect(prefix + ".stem", out);
    } else {
      patchEmbed.collect(prefix + ".patch_embed", out);
    }
    for (int i = 0; i < layers.size(); i++) {
      layers.get(i).collect(prefix + ".layers." + i, out);
    }
    lnPost.collect(prefix + ".ln_post", out);
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(features(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {new Shape(inputShapes[0].get(0), config.patches(), config.dim())};
  }
}
