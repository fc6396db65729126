package io.mqtstream.app;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.camera.CameraSource;
import io.mqtstream.camera.CameraSources;
import io.mqtstream.llava.MqtLlava;
import io.mqtstream.llava.PromptTokenizer;
import io.mqtstream.nn.Engines;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mqt-stream ask}: one question about one picture (or a clip's frames) for someone trying an
 * MQT-LLaVA checkpoint: the Vicuna v1 prompt (or {@code --raw}), the picture's first m visual
 * tokens at {@code <image>}, greedy decoding.
 */
@Command(
    name = "ask",
    description = "Ask an MQT-LLaVA checkpoint one question about a picture or a clip.")
final class AskCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "the LLaVA folder (config.json, …)")
  Path model;

  @Option(
      names = "--vision",
      description = "the CLIP tower's folder (default: mm_vision_tower as a path)")
  Path vision;

  @ArgGroup(multiplicity = "1")
  Input input;

  static final class Input {
    @Option(names = "--image", description = "a picture (PNG, JPEG)")
    Path image;

    @Option(names = "--video", description = "a video file: --frames of it, evenly spaced")
    Path video;
  }

  @Option(
      names = "--frames",
      defaultValue = "4",
      description = "frames taken from --video (default 4)")
  int frames;

  @Option(names = "--question", required = true, description = "the question")
  String question;

  @Option(names = "--m", description = "visual tokens per frame, 1..M (default M)")
  Integer m;

  @Option(
      names = "--max-new-tokens",
      defaultValue = "64",
      description = "the most answer tokens (default 64)")
  int maxNewTokens;

  @Option(
      names = "--raw",
      description = "the question is the whole prompt: no template; <image> marks the pictures")
  boolean raw;

  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description = "fp32 or fp16: the type the weights are held and run in (default fp32)")
  String dtype;

  @Option(names = "--json", description = "print one JSON line: answer, token_ids, m, model")
  boolean json;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (frames < 1) {
      throw new IllegalArgumentException("--frames must be at least 1");
    }
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("--max-new-tokens must be at least 1");
    }
    String prompt = raw ? question : PromptTokenizer.vicuna(question);
    if (!prompt.contains("<image>")) {
      throw new IllegalArgumentException("--raw prompt needs <image> where the pictures go");
    }
    List<BufferedImage> pictures = input.image != null ? List.of(read(input.image)) : clip();
    MqtLlava loaded;
    try {
      loaded = MqtLlava.load(model, vision, Engines.device("auto"), dtype(dtype));
    } catch (IOException e) {
      throw new IllegalArgumentException("--model " + model + ": " + e.getMessage(), e);
    }
    try (MqtLlava llava = loaded;
        NDManager scope = llava.newScope()) {
      int tokens = m == null ? llava.maxTokens() : m;
      if (tokens < 1 || tokens > llava.maxTokens()) {
        throw new IllegalArgumentException(
            "--m must be in 1.." + llava.maxTokens() + ", got " + tokens);
      }
      List<NDArray> visual = new ArrayList<>();
      for (BufferedImage picture : pictures) {
        NDArray features = llava.features(llava.pixelArray(scope, llava.pixels(picture)));
        visual.add(llava.visualTokens(features, tokens).get(0)); // (m, D)
      }
      long[] ids = llava.tokenizer().ids(prompt);
      long[] generated = llava.generate(llava.embed(scope, ids, visual), maxNewTokens);
      String answer = llava.tokenizer().decode(generated);
      if (json) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("answer", answer);
        line.put("token_ids", generated);
        line.put("m", tokens);
        line.put("model", model.toAbsolutePath().normalize().getFileName().toString());
        out.println(new ObjectMapper().writeValueAsString(line));
      } else {
        out.println(answer);
      }
      out.flush();
      return 0;
    }
  }

  private static ai.djl.ndarray.types.DataType dtype(String name) {
    try {
      return MqtLlava.dtype(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--dtype " + e.getMessage());
    }
  }

  private static BufferedImage read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--image " + file + ": no such file");
    }
    BufferedImage image = ImageIO.read(file.toFile());
    if (image == null) {
      throw new IllegalArgumentException("--image " + file + ": not a picture Java can read");
    }
    return image;
  }

  /** --frames pictures of the clip, evenly spaced over it, in time order. */
  private List<BufferedImage> clip() throws IOException {
    if (!Files.isRegularFile(input.video)) {
      throw new IllegalArgumentException("--video " + input.video + ": no such file");
    }
    List<BufferedImage> all = new ArrayList<>();
    try (CameraSource source = CameraSources.open(input.video.toString())) {
      source.open();
      Optional<CameraSource.Captured> c;
      while ((c = source.grab()).isPresent()) {
        all.add(c.get().image());
      }
    }
    if (all.isEmpty()) {
      throw new IllegalArgumentException("--video " + input.video + ": no frames");
    }
    List<BufferedImage> picked = new ArrayList<>();
    int n = Math.min(frames, all.size());
    for (int i = 0; i < n; i++) {
      picked.add(all.get((int) ((long) i * all.size() / n)));
    }
    return picked;
  }
}
