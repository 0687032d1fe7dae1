package org.tscvm.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParseResult;

/**
 * picocli, for every command line that {@link CommandTable#parsePlain} leaves: help, version,
 * errors and the forms beyond the plain one. Its model is built from {@link CommandTable} with
 * picocli's programmatic API, so both readers know the same options.
 */
final class PicocliFront {
    private PicocliFront() {
    }

    /** What picocli made of a command line: the options to run, or (when null) the status to exit with. */
    record Outcome(CommandTable.Parsed parsed, int status) {
    }

    static Outcome parse(String[] args, PrintStream out, PrintStream err) {
        CommandLine cl = commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        try {
            ParseResult result = cl.parseArgs(args);
            if (CommandLine.printHelpIfRequested(result)) {
                return new Outcome(null, 0);
            }
            if (!result.hasSubcommand()) {
                cl.usage(out);
                return new Outcome(null, ExitStatus.USAGE);
            }
            ParseResult sub = result.subcommand();
            CommandTable.Parsed parsed = new CommandTable.Parsed(CommandTable.subcommand(sub.commandSpec().name()));
            for (PositionalParamSpec positional : sub.matchedPositionals()) {
                parsed.add(positional.paramLabel(), positional.stringValues().get(0));
            }
            for (OptionSpec option : sub.commandSpec().options()) {
                if (!sub.hasMatchedOption(option)) {
                    continue;
                }
                if (option.arity().max() == 0) {
                    parsed.add(option.longestName(), "true");
                    continue;
                }
                for (String value : option.stringValues()) {
                    parsed.add(option.longestName(), value);
                }
            }
            return new Outcome(parsed, 0);
        } catch (CommandLine.ParameterException e) {
            err.println("tscvm: " + e.getMessage() + " (see tscvm --help)");
            return new Outcome(null, ExitStatus.USAGE);
        }
    }

    /** picocli's model of {@link CommandTable}, with -h/--help, -V/--version and a help subcommand. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(spec(CommandTable.NAME, CommandTable.DESCRIPTION, List.of()));
        for (CommandTable.Subcommand s : CommandTable.SUBCOMMANDS) {
            cl.addSubcommand(s.name(), new CommandLine(spec(s.name(), s.description(), s.options())));
        }
        cl.addSubcommand("help", new CommandLine.HelpCommand());
        return cl;
    }

    private static CommandSpec spec(String name, List<String> description, List<CommandTable.Option> options) {
        CommandSpec spec = CommandSpec.create().name(name).version(CommandTable.VERSION_LINE)
                .mixinStandardHelpOptions(true);
        spec.usageMessage().description(description.toArray(new String[0]));
        for (CommandTable.Option o : options) {
            if (o.isPositional()) {
                spec.addPositional(PositionalParamSpec.builder().paramLabel(o.paramLabel()).index("0").arity("1")
                        .type(String.class).description(o.description()).build());
                continue;
            }
            if (o.isFlag()) {
                spec.addOption(OptionSpec.builder(o.name()).arity("0").type(boolean.class)
                        .description(o.description()).build());
                continue;
            }
            OptionSpec.Builder b = OptionSpec.builder(o.name()).paramLabel(o.paramLabel()).arity("1")
                    .description(o.description());
            if (o.repeatable()) {
                b.type(List.class).auxiliaryTypes(String.class);
            } else {
                b.type(String.class);
            }
            spec.addOption(b.build());
        }
        return spec;
    }
}
