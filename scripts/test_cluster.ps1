# The prototype's cluster test, for Windows PowerShell, against the docker
# compose cluster: a faithful port of scripts/test_cluster.sh (PowerShell
# cannot be installed on the Debian machines nsxd is developed on, so this
# port is kept in step by hand and not run in CI).
#   1. bring the cluster up; 2. find the leader; 3. write a value;
#   4. stop the leader and check that a new one is elected;
#   5. check the value can be read after recovery;
#   6. restart the stopped node and check that it caught up.
# Each step prints PASS or FAIL; exits 1 on any FAIL; tears down what it
# started.
$ErrorActionPreference = "Continue"
Set-Location (Join-Path $PSScriptRoot "..")
if (-not $env:COMPOSE_PROJECT_NAME) { $env:COMPOSE_PROJECT_NAME = "nsxd" }
$script:fails = 0
function Pass($m) { Write-Host "PASS $m" }
function Fail($m) { Write-Host "FAIL $m"; $script:fails++ }
function Dc { docker compose @args }
function Health($n) {
    try { Invoke-RestMethod -TimeoutSec 2 "http://localhost:800$n/health" } catch { $null }
}
function Leader($nodes) {
    foreach ($n in $nodes) { $h = Health $n; if ($h -and $h.role -eq "leader") { return $n } }
    return $null
}
function WaitLeader($nodes) {
    for ($i = 0; $i -lt 150; $i++) { $l = Leader $nodes; if ($l) { return $l }; Start-Sleep -Milliseconds 100 }
    return $null
}
function Get-Key($n, $q) {
    try { Invoke-RestMethod -TimeoutSec 5 "http://localhost:800$n/kv/get?$q" }
    catch { $_.ErrorDetails.Message | ConvertFrom-Json }
}

try {
    Write-Host "1. bring the cluster up"
    Dc up -d --build | Out-Null
    $ok = $false
    for ($i = 0; $i -lt 60; $i++) {
        if ((Health 1) -and (Health 2) -and (Health 3)) { $ok = $true; break }
        Start-Sleep 1
    }
    if ($ok) { Pass "3 nodes answer on localhost:8001-8003" } else { Fail "nodes did not answer"; exit 1 }

    Write-Host "2. find the leader"
    $L = WaitLeader @(1, 2, 3)
    if ($L) { Pass "node$L is the leader" } else { Fail "no leader"; exit 1 }

    Write-Host "3. write a value"
    $out = Invoke-RestMethod -Method Post -TimeoutSec 5 -ContentType "application/json" `
        -Body '{"key": "foo", "value": "bar"}' "http://localhost:800$L/kv/put"
    if ($out.ok) { Pass "PUT foo=bar" } else { Fail "PUT" }
    $F = ($L % 3) + 1
    $out = Get-Key $F "key=foo"
    if ($out.leader -eq "node${L}:8000") { Pass "a follower answers 409 naming the leader" } else { Fail "follower answer" }

    Write-Host "4. stop the leader, a new one is elected"
    Dc stop "node$L" | Out-Null
    $rest = @(1, 2, 3) | Where-Object { $_ -ne $L }
    $L2 = WaitLeader $rest
    if ($L2) { Pass "node$L stopped; node$L2 is the new leader" } else { Fail "no new leader" }

    Write-Host "5. read the value after recovery"
    $out = Get-Key $L2 "key=foo"
    if ($out.value -eq "bar") { Pass "GET foo on node$L2" } else { Fail "GET" }

    Write-Host "6. restart the stopped node, it catches up"
    Dc start "node$L" | Out-Null
    $ok = $false
    for ($i = 0; $i -lt 100; $i++) {
        $out = Get-Key $L "key=foo&stale=true"
        if ($out -and $out.value -eq "bar") { $ok = $true; break }
        Start-Sleep -Milliseconds 200
    }
    if ($ok) { Pass "node$L is back and has foo" } else { Fail "node$L did not catch up" }
}
finally {
    Dc --profile join down -v --remove-orphans | Out-Null
}
Write-Host ""
if ($script:fails -eq 0) { Write-Host "test_cluster: all passed"; exit 0 }
Write-Host "test_cluster: $($script:fails) FAILED"; exit 1
