package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/** Named parameters to and from safetensors files, checking every name and shape on the way in. */
public final class Checkpoints {
  private Checkpoints() {}

  /** Writes every parameter under its name. */
  public static void save(Path file, Map<String, Parameter> parameters, NDManager manager)
      throws IOException {
    Map<String, NDArray> arrays = new LinkedHashMap<>();
    parameters.forEach((name, p) -> arrays.put(name, p.getArray()));
    saveArrays(file, arrays, manager);
  }

  /** Writes arrays under their names (e.g. optimizer state). */
  public static void saveArrays(Path file, Map<String, NDArray> arrays, NDManager manager)
      throws IOException {
    NDList list = new NDList();
    try (NDManager scratch = manager.newSubManager()) {
      for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
        NDArray copy = e.getValue().duplicate();
        copy.attach(scratch);
        copy.setName(e.getKey());
        list.add(copy);
      }
      try (OutputStream out = Files.newOutputStream(file)) {
        list.encode(out, NDList.Encoding.SAFETENSORS);
      }
    }
  }

  /**
   * Loads every parameter from its tensor. BF16/F16 tensors are converted to float32.
   *
   * @throws IOException naming a tensor that is missing, unexpected or of the wrong shape
   */
  public static void load(Path file, Map<String, Parameter> parameters, NDManager manager)
      throws IOException {
    Map<String, NDArray> arrays = new LinkedHashMap<>();
    parameters.forEach((name, p) -> arrays.put(name, p.getArray()));
    loadArrays(file, arrays, manager);
  }

  /** Fills existing arrays from their tensors, with the same checks as {@link #load}. */
  public static void loadArrays(Path file, Map<String, NDArray> arrays, NDManager manager)
      throws IOException {
    try (NDManager scratch = manager.newSubManager();
        InputStream in = Files.newInputStream(file)) {
      Map<String, NDArray> byName = new LinkedHashMap<>();
      for (NDArray t : NDList.decode(scratch, in)) {
        byName.put(t.getName(), t);
      }
      for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
        NDArray t = byName.remove(e.getKey());
        if (t == null) {
          throw new IOException(file + ": missing tensor " + e.getKey());
        }
        Shape expected = e.getValue().getShape();
        if (!t.getShape().equals(expected)) {
          throw new IOException(
              file
                  + ": tensor "
                  + e.getKey()
                  + " has shape "
                  + t.getShape()
                  + ", expected "
                  + expected);
        }
        e.getValue().set(Tensors.toFloats(t.toType(DataType.FLOAT32, false)));
      }
      if (!byName.isEmpty()) {
        throw new IOException(file + ": unexpected tensors " + new TreeSet<>(byName.keySet()));
      }
    }
  }

  /**
   * Fills the named parameters from a Hugging Face checkpoint folder (single or sharded
   * safetensors, {@link CheckpointFolder}), reading only their tensors; other tensors in the folder
   * are left alone (a block takes its own out of a whole model's shards).
   *
   * @throws IOException naming a tensor that is missing or of the wrong shape
   */
  public static void loadFrom(CheckpointFolder folder, Map<String, Parameter> parameters)
      throws IOException {
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      NDArray target = e.getValue().getArray();
      long[] shape = folder.shape(e.getKey());
      if (!new Shape(shape).equals(target.getShape())) {
        throw new IOException(
            "tensor "
                + e.getKey()
                + " has shape "
                + new Shape(shape)
                + ", expected "
                + target.getShape());
      }
      float[] values = folder.floats(e.getKey());
      if (target.getDataType() == DataType.FLOAT32) {
        target.set(values);
      } else { // a model held in bf16/fp16: converted on the way in
        try (NDManager scratch = target.getManager().newSubManager()) {
          scratch
              .create(values, target.getShape())
              .toType(target.getDataType(), false)
              .copyTo(target);
        }
      }
    }
  }
}
