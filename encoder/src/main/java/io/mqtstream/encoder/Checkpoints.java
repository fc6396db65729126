package io.mqtstream.encoder;

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
    NDList list = new NDList();
    try (NDManager scratch = manager.newSubManager()) {
      for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
        NDArray copy = e.getValue().getArray().duplicate();
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
    try (NDManager scratch = manager.newSubManager();
        InputStream in = Files.newInputStream(file)) {
      Map<String, NDArray> byName = new LinkedHashMap<>();
      for (NDArray t : NDList.decode(scratch, in)) {
        byName.put(t.getName(), t);
      }
      for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
        NDArray t = byName.remove(e.getKey());
        if (t == null) {
          throw new IOException(file + ": missing tensor " + e.getKey());
        }
        Shape expected = e.getValue().getArray().getShape();
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
        e.getValue().getArray().set(Tensors.toFloats(t.toType(DataType.FLOAT32, false)));
      }
      if (!byName.isEmpty()) {
        throw new IOException(file + ": unexpected tensors " + new TreeSet<>(byName.keySet()));
      }
    }
  }
}
