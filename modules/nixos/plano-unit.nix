# plano.service, ai.slice and compute.target as pure data (builtins only, no nixpkgs).
#
# plano.nix and modes.nix turn this into NixOS systemd options; tests/nix evaluates it with
# `nix-instantiate --eval --strict --json`, renders unit files and runs `systemd-analyze verify` and
# `systemd-analyze security --offline=yes` on them. Keep it free of `lib` and `pkgs` so that stays true.
#
# Each unit is { Unit, Service | Slice, Install } of key = value; a list value means the key is repeated.
{
  # "package": our plano-daemon, Type=notify-reload with watchdog.
  # "external": an executable installed outside Nix (the Plano CLI's `up --foreground`).
  runtime ? "package",
  # Absolute path checked by ExecStartPre and run by ExecStart.
  executable,
  # The Plano config, at a stable path (/etc/plano/config.yaml) so a settings change reloads, not restarts.
  configFile ? "/etc/plano/config.yaml",
  # systemd EnvironmentFile= paths (secrets; read by PID 1, never copied to the store).
  environmentFiles ? [ ],
  logLevel ? "info",
  extraArgs ? [ ],
  # ./check-executable.sh installed as a program; the module passes a store path, tests the repo file.
  checkExecutableBin,
}:
let
  # Quote one argument for an Exec*= line (systemd.service(5) "Command lines").
  escapeArg =
    arg:
    let
      s = builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (toString arg);
    in
    if builtins.match "[A-Za-z0-9_./:=@+,-]+" s != null then
      s
    else
      "\"" + builtins.replaceStrings [ "\\" "\"" ] [ "\\\\" "\\\"" ] s + "\"";

  # plano-daemon's --log-level spelling.
  cliLogLevel =
    {
      debug = "DEBUG";
      info = "INFO";
      warning = "WARNING";
      error = "ERROR";
    }
    .${logLevel};

  commandLine = args: builtins.concatStringsSep " " (map escapeArg args);

  isPackage = runtime == "package";

  runtimeService =
    if isPackage then
      {
        # READY=1 once the config is valid and every listener is bound; WATCHDOG=1 every WatchdogSec/2.
        # notify-reload (systemd >= 253): `systemctl reload` sends SIGHUP itself and returns only after
        # the daemon's RELOADING=1 ... READY=1, i.e. once the new config serves (a bad one keeps the old).
        Type = "notify-reload";
        ReloadSignal = "SIGHUP";
        NotifyAccess = "main";
        WatchdogSec = "30s";
        ExecStart = commandLine (
          [
            executable
            "serve"
            "--config"
            configFile
            "--log-level"
            cliLogLevel
          ]
          ++ extraArgs
        );
      }
    else
      {
        Type = "simple";
        ExecStart = commandLine (
          [
            executable
            "up"
            configFile
            "--foreground"
          ]
          ++ extraArgs
        );
      };

  # Where the service may write. The state directory is nested (/var/lib/plano/state) so that
  # /var/lib/plano itself, which holds the external runtime's venv (the seed's default
  # /var/lib/plano/venv/bin/planoai), stays root's: DynamicUser= chowns a StateDirectory= tree to the
  # service's uid, which would hand the gateway its own executable.
  writableDirs = [
    "/var/lib/plano/state"
    "/var/lib/private/plano"
    "/var/cache/plano"
    "/var/cache/private/plano"
  ];

  # Sandboxing, see systemd.exec(5). `systemd-analyze security plano.service` scores this at most 2.0;
  # tests/nix enforces that. Each relaxation says why.
  hardening = {
    DynamicUser = true;
    StateDirectory = "plano/state";
    StateDirectoryMode = "0700";
    CacheDirectory = "plano";
    CacheDirectoryMode = "0700";
    UMask = "0077";
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateUsers = true;
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    # Hides /proc/stat & co. Nothing needs them: /metrics is the daemon's own registry of plano_* series,
    # without prometheus-client's process collector (process_* would double what systemd already
    # accounts per unit: MemoryCurrent=, CPUUsageNSec=, TasksCurrent=).
    ProcSubset = "pid";
    # Network is the job (listeners, upstreams). AF_UNIX stays for the sd_notify socket and journald.
    RestrictAddressFamilies = [
      "AF_INET"
      "AF_INET6"
      "AF_UNIX"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    RemoveIPC = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    DevicePolicy = "closed";
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
    ];
    SystemCallErrorNumber = "EPERM";
  };
in
{
  inherit writableDirs;

  plano = {
    Unit = {
      Description = "Plano LLM routing gateway";
      Documentation = [ "https://docs.planoai.dev" ];
      # wants, not requires: the host must boot (and plano must start) without vllm.service.
      After = [
        "network.target"
        "vllm.service"
      ];
      Wants = [ "vllm.service" ];
      # Leaving compute mode (`mode request desktop`) stops the gateway too.
      PartOf = [ "compute.target" ];
      # Backoff ends: after 5 failed starts in 5 minutes the unit stays failed.
      StartLimitIntervalSec = 300;
      StartLimitBurst = 5;
    };
    Service =
      runtimeService
      // hardening
      // {
        # Fail closed: a missing or non-executable binary, or one that anyone but root could modify, stops
        # the unit before it starts (./check-executable.sh).
        ExecStartPre = commandLine [
          checkExecutableBin
          executable
        ];
        Slice = "ai.slice";
        EnvironmentFile = environmentFiles;
        # The package runtime also gets --log-level; the variable is for the external runtime.
        Environment = [ "PLANO_LOG_LEVEL=${logLevel}" ];
        Restart = "on-failure";
        RestartSec = "2s";
        # Exponential backoff between restarts. Both keys are systemd >= 254: systemd 252/253 log
        # "Unknown key" and ignore them (a fixed RestartSec=2s then).
        RestartSteps = 5;
        RestartMaxDelaySec = "30s";
        TimeoutStopSec = "45s";
      };
    Install = {
      WantedBy = [ "compute.target" ];
    };
  };

  aiSlice = {
    Unit = {
      Description = "AI workloads (local model servers and the Plano gateway)";
    };
    Slice = {
      # Interactive desktop work keeps priority over inference when both compete.
      CPUWeight = 80;
      IOWeight = 80;
    };
  };

  computeTarget = {
    Unit = {
      Description = "Compute mode: local inference and the AI gateway";
      Requires = [ "multi-user.target" ];
      After = [ "multi-user.target" ];
      # Entered and left with `mode request compute|desktop`, never isolated.
      AllowIsolate = false;
    };
  };
}
