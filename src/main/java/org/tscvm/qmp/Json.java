package org.tscvm.qmp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON QMP speaks (RFC 8259, plus QMP's single-quoted strings with their {@code \'}
 * escape), as plain Java values: an object is a {@code Map<String, Object>} in member order,
 * an array a {@code List<Object>}, a number a {@code Long} when it is an integer that fits and
 * a {@code Double} otherwise, then {@code String}, {@code Boolean} and {@code null}.
 *
 * <pre>{@code
 * Object v = Json.parse("{\"execute\": \"stop\", \"id\": 1}");   // {execute=stop, id=1}
 * String s = Json.write(Map.of("return", Map.of()));              // {"return": {}}
 * }</pre>
 *
 * <p>The parser is strict and bounded: nesting deeper than {@link #MAX_DEPTH} is an error, so a
 * hostile client can neither overflow the stack nor (with the framer's size limit in
 * {@link QmpReader}) exhaust memory. The writer emits ASCII only, as QMP's server does.
 */
public final class Json {
    /** Nesting limit; QMP's own messages nest four or five levels. */
    public static final int MAX_DEPTH = 64;

    /** A message that is not JSON; the text is QEMU's "JSON parse error, ..." wording. */
    public static final class ParseException extends Exception {
        ParseException(String message) {
            super(message, null, false, false);
        }
    }

    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** Parses exactly one JSON value (surrounding whitespace allowed). */
    public static Object parse(String text) throws ParseException {
        Json p = new Json(text);
        p.skipSpace();
        Object v = p.value(0);
        p.skipSpace();
        if (p.pos != text.length()) {
            throw p.error("unexpected text after the value");
        }
        return v;
    }

    private ParseException error(String what) {
        return new ParseException("JSON parse error, " + what);
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private Object value(int depth) throws ParseException {
        if (pos >= text.length()) {
            throw error("expecting value");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"':
            case '\'':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("expecting value");
        }
    }

    private Object literal(String word, Object v) throws ParseException {
        if (!text.startsWith(word, pos)) {
            throw error("invalid keyword");
        }
        pos += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) throws ParseException {
        if (depth > MAX_DEPTH) {
            throw error("too deeply nested (more than " + MAX_DEPTH + " levels)");
        }
        pos++; // '{'
        Map<String, Object> members = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            pos++;
            return members;
        }
        while (true) {
            skipSpace();
            char c = peek();
            if (c != '"' && c != '\'') {
                throw error("key is not a string in object");
            }
            String key = string();
            skipSpace();
            if (peek() != ':') {
                throw error("missing : in object pair");
            }
            pos++;
            skipSpace();
            if (members.containsKey(key)) {
                throw error("duplicate key '" + key + "'");
            }
            members.put(key, value(depth));
            skipSpace();
            c = peek();
            pos++;
            if (c == '}') {
                return members;
            }
            if (c != ',') {
                throw error("expected separator in dict");
            }
        }
    }

    private List<Object> array(int depth) throws ParseException {
        if (depth > MAX_DEPTH) {
            throw error("too deeply nested (more than " + MAX_DEPTH + " levels)");
        }
        pos++; // '['
        List<Object> items = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            pos++;
            return items;
        }
        while (true) {
            skipSpace();
            items.add(value(depth));
            skipSpace();
            char c = peek();
            pos++;
            if (c == ']') {
                return items;
            }
            if (c != ',') {
                throw error("expected separator in list");
            }
        }
    }

    /** The next character, or NUL at the end (which no rule accepts). */
    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private String string() throws ParseException {
        char quote = text.charAt(pos++);
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw error("missing end of string");
            }
            char c = text.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c < 0x20) {
                throw error("control character in string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw error("missing end of string");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"', '\\', '/', '\'' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (pos + 4 > text.length()) {
                        throw error("invalid escape sequence in string");
                    }
                    int cp = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(text.charAt(pos++), 16);
                        if (d < 0) {
                            throw error("invalid hex escape sequence in string");
                        }
                        cp = cp << 4 | d;
                    }
                    sb.append((char) cp);
                }
                default -> throw error("invalid escape sequence in string");
            }
        }
    }

    private Object number() throws ParseException {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9') {
                pos++;
            }
        } else {
            throw error("invalid number");
        }
        boolean integral = true;
        if (peek() == '.') {
            integral = false;
            pos++;
            if (!(peek() >= '0' && peek() <= '9')) {
                throw error("invalid number");
            }
            while (peek() >= '0' && peek() <= '9') {
                pos++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!(peek() >= '0' && peek() <= '9')) {
                throw error("invalid number");
            }
            while (peek() >= '0' && peek() <= '9') {
                pos++;
            }
        }
        String digits = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(digits);
            } catch (NumberFormatException tooBig) {
                // QEMU reads integers beyond int64 as floating point too.
            }
        }
        return Double.parseDouble(digits);
    }

    // ---------------------------------------------------------------- writing

    /** {@code value} as compact JSON, members separated as QEMU prints them ({@code "a": 1, "b": 2}). */
    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb, -1, 0);
        return sb.toString();
    }

    /** {@code value} as JSON indented by four spaces a level (QEMU's {@code -qmp-pretty}). */
    public static String writePretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb, 4, 0);
        return sb.toString();
    }

    private static void write(Object v, StringBuilder sb, int indent, int level) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            writeString(s, sb);
        } else if (v instanceof Boolean || v instanceof Long || v instanceof Integer) {
            sb.append(v);
        } else if (v instanceof Double d) {
            sb.append(d.isNaN() || d.isInfinite() ? "null" : Double.toString(d));
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                separate(sb, first, indent, level + 1);
                first = false;
                writeString((String) e.getKey(), sb);
                sb.append(": ");
                write(e.getValue(), sb, indent, level + 1);
            }
            close(sb, '}', indent, level);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            boolean first = true;
            for (Object item : l) {
                separate(sb, first, indent, level + 1);
                first = false;
                write(item, sb, indent, level + 1);
            }
            close(sb, ']', indent, level);
        } else {
            throw new IllegalArgumentException("not a JSON value: " + v.getClass().getName());
        }
    }

    private static void separate(StringBuilder sb, boolean first, int indent, int level) {
        if (!first) {
            sb.append(indent < 0 ? ", " : ",");
        }
        if (indent >= 0) {
            sb.append('\n').append(" ".repeat(indent * level));
        }
    }

    private static void close(StringBuilder sb, char bracket, int indent, int level) {
        if (indent >= 0) {
            sb.append('\n').append(" ".repeat(indent * level));
        }
        sb.append(bracket);
    }

    private static void writeString(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c)); // ASCII out, as QMP's server
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
