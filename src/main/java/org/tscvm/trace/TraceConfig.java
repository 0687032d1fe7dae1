package org.tscvm.trace;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import org.tscvm.TscvmException;

/**
 * What {@code --trace FILE} and {@code --trace-kinds LIST} ask for: the file and the event
 * categories it records.
 *
 * @param file       where the Chrome/Perfetto trace-event JSON goes
 * @param categories the categories recorded ({@code all} by default)
 */
public record TraceConfig(Path file, Set<TraceKind.Category> categories) {
    public TraceConfig {
        if (file == null) {
            throw new TscvmException("a trace needs a file");
        }
        categories = categories.isEmpty() ? EnumSet.noneOf(TraceKind.Category.class) : EnumSet.copyOf(categories);
    }

    /** Every category. */
    public static TraceConfig all(Path file) {
        return new TraceConfig(file, EnumSet.allOf(TraceKind.Category.class));
    }

    /**
     * Parses {@code --trace-kinds}: a comma-separated list of category names ({@code msr, sync,
     * scale, host, timer, cpu, exit, state}) or {@code all}.
     *
     * @throws TscvmException naming the unknown word and the known ones
     */
    public static Set<TraceKind.Category> parseCategories(String list) {
        EnumSet<TraceKind.Category> categories = EnumSet.noneOf(TraceKind.Category.class);
        for (String word : list.split(",", -1)) {
            String w = word.trim().toLowerCase(Locale.ROOT);
            if (w.equals("all")) {
                categories.addAll(EnumSet.allOf(TraceKind.Category.class));
                continue;
            }
            TraceKind.Category found = null;
            for (TraceKind.Category c : TraceKind.Category.values()) {
                if (c.label().equals(w)) {
                    found = c;
                }
            }
            if (found == null) {
                throw new TscvmException("trace kind '" + word + "' is unknown: use all or a list of " + known());
            }
            categories.add(found);
        }
        return categories;
    }

    /** The category names, comma-separated, for help and errors. */
    public static String known() {
        StringBuilder s = new StringBuilder();
        for (TraceKind.Category c : TraceKind.Category.values()) {
            s.append(s.length() == 0 ? "" : ",").append(c.label());
        }
        return s.toString();
    }

    boolean records(TraceKind kind) {
        return categories.contains(kind.category());
    }
}
