package io.mqtstream.training;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/** PNG charts of accuracy against m (log scale) and against the GFLOPs each m costs. */
public final class AccuracyPlot {
  private static final int W = 520;
  private static final int H = 360;

  private AccuracyPlot() {}

  /**
   * @param series name → (m → accuracy), one line each
   * @param gflops m → encoder + LLM prefill GFLOPs per prompt
   */
  public static void write(
      Path file, Map<String, Map<Integer, Double>> series, Map<Integer, Double> gflops)
      throws IOException {
    BufferedImage img = new BufferedImage(2 * W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, 2 * W, H);
    panel(g, 0, "accuracy vs m (visual tokens per frame)", series, m -> (double) m);
    panel(g, W, "accuracy vs GFLOPs per prompt (encoder + LLM prefill)", series, gflops::get);
    g.dispose();
    Files.createDirectories(file.toAbsolutePath().getParent());
    ImageIO.write(img, "png", file.toFile());
  }

  private static void panel(
      Graphics2D g,
      int x0,
      String title,
      Map<String, Map<Integer, Double>> series,
      java.util.function.Function<Integer, Double> xOf) {
    int left = x0 + 60;
    int right = x0 + W - 20;
    int top = 40;
    int bottom = H - 50;
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    g.drawString(title, x0 + 40, 22);
    g.drawLine(left, bottom, right, bottom);
    g.drawLine(left, top, left, bottom);
    List<Double> xs = new ArrayList<>();
    series.values().forEach(s -> s.keySet().forEach(m -> xs.add(xOf.apply(m))));
    double min = xs.stream().mapToDouble(Double::doubleValue).min().orElse(1);
    double max = xs.stream().mapToDouble(Double::doubleValue).max().orElse(2);
    java.util.function.DoubleUnaryOperator sx =
        v -> left + (right - left) * Math.log(v / min) / Math.log(max / min);
    java.util.function.DoubleUnaryOperator sy = a -> bottom - (bottom - top) * a;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    for (int p = 0; p <= 100; p += 20) {
      int y = (int) sy.applyAsDouble(p / 100.0);
      g.setColor(new Color(225, 225, 225));
      g.drawLine(left, y, right, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(p + "%", left - 38, y + 4);
    }
    Color[] palette = {
      new Color(200, 40, 40),
      new Color(40, 90, 200),
      new Color(30, 150, 60),
      new Color(150, 60, 170)
    };
    int k = 0;
    for (Map.Entry<String, Map<Integer, Double>> s : series.entrySet()) {
      g.setColor(palette[k % palette.length]);
      g.setStroke(new BasicStroke(2f));
      int px = -1;
      int py = -1;
      for (Map.Entry<Integer, Double> e : new java.util.TreeMap<>(s.getValue()).entrySet()) {
        int x = (int) sx.applyAsDouble(xOf.apply(e.getKey()));
        int y = (int) sy.applyAsDouble(e.getValue());
        g.fillOval(x - 4, y - 4, 8, 8);
        if (px >= 0) {
          g.drawLine(px, py, x, y);
        }
        px = x;
        py = y;
        if (k == 0) {
          g.setColor(Color.DARK_GRAY);
          String label =
              xOf.apply(e.getKey()) == (double) e.getKey()
                  ? "m=" + e.getKey()
                  : String.format(Locale.ROOT, "%.2f", xOf.apply(e.getKey()));
          g.drawString(label, x - 12, bottom + 16);
          g.setColor(palette[k % palette.length]);
        }
      }
      // legend right-aligned inside the panel, so a long checkpoint path is not cut off
      int width = g.getFontMetrics().stringWidth(s.getKey());
      g.drawString(s.getKey(), Math.max(left + 4, right - width - 4), top + 16 + 16 * k);
      k++;
    }
  }
}
