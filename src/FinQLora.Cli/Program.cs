using FinQLora.Cli;

FinQLora.Runtime.NativeBootstrap.Ensure();
return CliApp.Run(args);
