package io.mqtstream.nn;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.Map;

/**
 * Base of the model's blocks (encoder and reasoner): every parameter has its shape from
 * construction, so children are initialised without shape inference, and every parameter has a
 * stable dotted name (the tensor names of the checkpoint).
 */
public abstract class ModelBlock extends AbstractBlock {

  /** Adds this block's parameters to {@code out} under {@code prefix}. */
  public abstract void collect(String prefix, Map<String, Parameter> out);

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    for (Block child : getChildren().values()) {
      child.initialize(manager, dataType, inputShapes);
    }
  }
}
