package io.mqtstream.world;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A short synthetic video: objects moving over a plain or checkered background. Rendering is
 * deterministic (no anti-aliasing, integer geometry), so a seed gives the same pixels every time.
 *
 * @param seed the seed it was drawn from
 * @param imageSize side of the square frames, pixels
 * @param frames number of frames
 * @param background the background colour
 * @param checkered whether the background has a checker texture
 * @param objects what is in the scene
 */
public record Clip(
    long seed,
    int imageSize,
    int frames,
    Color background,
    boolean checkered,
    List<SceneObject> objects) {

  public Clip {
    objects = List.copyOf(objects);
  }

  /** The objects visible at frame t. */
  public List<SceneObject> visibleAt(int t) {
    return objects.stream().filter(o -> o.visibleAt(t)).toList();
  }

  /** Frame t as an RGB picture. */
  public BufferedImage render(int t) {
    BufferedImage img = new BufferedImage(imageSize, imageSize, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
    g.setColor(background);
    g.fillRect(0, 0, imageSize, imageSize);
    if (checkered) {
      int cell = Math.max(4, imageSize / 8);
      g.setColor(background.darker());
      for (int y = 0; y < imageSize; y += cell) {
        for (int x = ((y / cell) % 2) * cell; x < imageSize; x += 2 * cell) {
          g.fillRect(x, y, cell, cell);
        }
      }
    }
    for (SceneObject o : objects) {
      if (o.visibleAt(t)) {
        draw(g, o, t);
      }
    }
    g.dispose();
    return img;
  }

  /**
   * Which object covers each pixel of frame t: the index into {@link #objects()}, or -1 for the
   * background; row-major, {@code imageSize²} entries. Drawn with the same geometry as {@link
   * #render}, so it is the ground truth of the rendered pixels (for dense vision supervision).
   */
  public int[] objectMap(int t) {
    BufferedImage img = new BufferedImage(imageSize, imageSize, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
    for (int i = 0; i < objects.size(); i++) {
      if (objects.get(i).visibleAt(t)) {
        draw(g, objects.get(i), t, new Color(i + 1)); // index + 1 as the pixel value, 0 = none
      }
    }
    g.dispose();
    int[] map = img.getRGB(0, 0, imageSize, imageSize, null, 0, imageSize);
    for (int i = 0; i < map.length; i++) {
      map[i] = (map[i] & 0xFFFFFF) - 1;
    }
    return map;
  }

  private void draw(Graphics2D g, SceneObject o, int t) {
    draw(g, o, t, o.colour().rgb());
  }

  private void draw(Graphics2D g, SceneObject o, int t, Color colour) {
    int r = (int) Math.round(o.radius(imageSize));
    int cx = (int) Math.round(o.x(t));
    int cy = (int) Math.round(o.y(t));
    g.setColor(colour);
    switch (o.shape()) {
      case CIRCLE -> g.fillOval(cx - r, cy - r, 2 * r, 2 * r);
      case SQUARE -> g.fillRect(cx - r, cy - r, 2 * r, 2 * r);
      case TRIANGLE ->
          g.fillPolygon(
              new Polygon(new int[] {cx, cx - r, cx + r}, new int[] {cy - r, cy + r, cy + r}, 3));
    }
  }
}
