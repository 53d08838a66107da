using FinQLora.Cli;

FinQLora.Runtime.NativeBootstrap.Ensure();
PrintableWriter.Install();
return CliApp.Run(args);
